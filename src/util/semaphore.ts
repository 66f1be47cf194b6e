// A counting semaphore with weights, first come first served: the one bound on "at most N at once" in the
// service (requests in flight on the one-item paths, events a worker holds across its jobs).

export class Semaphore {
  private free: number;
  /** Asks not granted yet: the asks made `first`, in the order made, then the others, in the order made. */
  private readonly waiting: Array<{ n: number; first: boolean; grant: () => void }> = [];
  /** How many of `waiting` (at its start) were asked `first`. */
  private firstWaiting = 0;

  constructor(readonly size: number) {
    this.free = size;
  }

  /**
   * Resolves once `n` permits (at least 1, at most the whole size, so a larger ask still runs, alone) are
   * held; returns how many were taken, to give back to release(). Asks are granted in the order made,
   * except that an ask made `first` goes ahead of every ask not made so (work something else waits for).
   */
  async acquire(n = 1, first = false): Promise<number> {
    const take = Math.max(1, Math.min(n, this.size));
    const ahead = first ? this.firstWaiting : this.waiting.length;
    if (ahead === 0 && this.free >= take) {
      this.free -= take;
      return take;
    }
    await new Promise<void>((grant) => {
      this.waiting.splice(ahead, 0, { n: take, first, grant });
      if (first) this.firstWaiting++;
    });
    return take;
  }

  release(n = 1): void {
    this.free += n;
    while (this.waiting.length > 0 && this.free >= this.waiting[0].n) {
      const next = this.waiting.shift()!;
      if (next.first) this.firstWaiting--;
      this.free -= next.n;
      next.grant();
    }
  }

  /** Permits in use now. */
  held(): number {
    return this.size - this.free;
  }
}
