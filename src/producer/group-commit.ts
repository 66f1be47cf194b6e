// Group commit: the events of requests that arrive within a few milliseconds of each other are written
// to Redis together, one job per subscription, instead of one job per event.
//
// States of the committer: idle (nothing pending, nothing being written) → a request arrives: with no
// commit being written, it is written at the next turn of the event loop (with whatever arrived in the same
// turn), so a lone caller waits for nothing; while a commit is being written, requests collect, and are
// written together as soon as it finishes, or when the window (`windowMs`) since the first of them
// closes, or when they reach `maxEvents`, whichever comes first. A request therefore waits at most
// `windowMs` before its commit starts, then for the commit's own write. Every request of a commit is
// acknowledged together, or refused together.
//
// Trade-off: under load, requests arriving during a write share the next one (fewer, larger jobs: less
// Redis memory and CPU per event); at light load nothing waits. The default window, 2 ms, only bounds
// how long a request may wait behind a slow write.

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
  /** A commit is due at the next turn of the event loop. */
  private soon = false;
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
      else if (this.writing.size === 0) this.scheduleSoon();
      else if (!this.timer) this.timer = setTimeout(() => this.commit(), this.caps.windowMs);
    });
  }

  // The next turn of the event loop: requests handled in this one join the commit.
  private scheduleSoon(): void {
    if (this.soon) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      this.commit();
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
    const done = this.run(batch).finally(() => {
      this.writing.delete(done);
      // What collected while this commit was written goes now, together.
      if (this.pending.length > 0 && this.writing.size === 0) this.commit();
    });
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
