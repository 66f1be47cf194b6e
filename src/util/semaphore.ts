// A counting semaphore with weights, first come first served: the one bound on "at most N at once" in the
// service (requests in flight on the one-item paths, events a worker holds across its jobs).

export class Semaphore {
  private free: number;
  private readonly waiting: Array<{ n: number; grant: () => void }> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /**
   * Resolves once `n` permits (at least 1, at most the whole size, so a larger ask still runs, alone) are
   * held; returns how many were taken, to give back to release(). Asks are granted in the order made.
   */
  async acquire(n = 1): Promise<number> {
    const take = Math.max(1, Math.min(n, this.size));
    if (this.waiting.length === 0 && this.free >= take) {
      this.free -= take;
      return take;
    }
    await new Promise<void>((grant) => this.waiting.push({ n: take, grant }));
    return take;
  }

  release(n = 1): void {
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
