// A bound on the events a worker process holds at once, across its jobs and queues. BullMQ's concurrency
// counts jobs, and a job may carry one event or a hundred: without this bound, a backlog in many queues
// would put WORKER_CONCURRENCY × GROUP_MAX_EVENTS events of each queue in memory at once.
//
// A job takes as many permits as it has events (at most the whole bound, so a job larger than the bound
// still runs, alone) before it decodes them, and gives them back once it is settled. Jobs that wait for
// permits hold only their compressed data. Permits are granted in the order they were asked for.

export class ItemPermits {
  private free: number;
  private readonly waiting: Array<{ n: number; grant: () => void }> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves once `n` permits (at most the whole bound) are held; returns how many were taken. */
  async acquire(n: number): Promise<number> {
    const take = Math.max(1, Math.min(n, this.size));
    if (this.waiting.length === 0 && this.free >= take) {
      this.free -= take;
      return take;
    }
    await new Promise<void>((grant) => this.waiting.push({ n: take, grant }));
    return take;
  }

  release(n: number): void {
    this.free += n;
    while (this.waiting.length > 0 && this.free >= this.waiting[0].n) {
      const next = this.waiting.shift()!;
      this.free -= next.n;
      next.grant();
    }
  }

  /** Permits in use now. */
  held(): number {
    return this.size - this.free;
  }
}
