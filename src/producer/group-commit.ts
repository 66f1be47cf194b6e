// Group commit: the events of requests that arrive within a few milliseconds of each other are written
// to Redis together, one job per subscription, instead of one job per event.
//
// States of the committer: idle (nothing pending, no timer) → collecting (the first request started the
// window timer; others join) → writing (the window closed or the caps were reached: the pending requests
// are handed to `write` as one commit). Several commits may be writing at once. A request waits at most
// `windowMs` before its commit starts, then for the commit's own write; its promise settles with the
// commit: every request of a commit is acknowledged together, or refused together.
//
// Trade-off: a longer window makes fewer, larger jobs (less Redis memory and CPU per event) and adds that
// long to each request's answer. The default, 2 ms, is small next to an HTTP round trip.

export interface CommitCaps {
  /** Longest a request waits for others to join its commit. 0: write at the next turn of the event loop. */
  windowMs: number;
  /** A commit is written as soon as it holds this many events. */
  maxEvents: number;
}

interface Pending<T, R> {
  entry: T;
  events: number;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<T, R> {
  private pending: Array<Pending<T, R>> = [];
  private pendingEvents = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();

  /** `write` gets the entries of one commit and returns one result per entry, in order. */
  constructor(
    private readonly caps: CommitCaps,
    private readonly write: (entries: T[]) => Promise<R[]>,
  ) {}

  /** Adds an entry (e.g. the events of one request) to the next commit; settles when the commit does. */
  submit(entry: T, events: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ entry, events, resolve, reject });
      this.pendingEvents += events;
      if (this.pendingEvents >= this.caps.maxEvents) this.commit();
      else if (!this.timer) this.timer = setTimeout(() => this.commit(), this.caps.windowMs);
    });
  }

  /** Writes what is pending now and waits for every commit in progress (shutdown). */
  async drain(): Promise<void> {
    this.commit();
    while (this.writing.size > 0) await Promise.allSettled([...this.writing]);
  }

  private commit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingEvents = 0;
    const done = this.run(batch).finally(() => this.writing.delete(done));
    this.writing.add(done);
  }

  private async run(batch: Array<Pending<T, R>>): Promise<void> {
    try {
      const results = await this.write(batch.map((p) => p.entry));
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
