// The counts behind the cio_* counters: increments are gathered for one turn of the event loop and
// stored in one round trip (a flush of 50 items costs one Redis call, not 50). A store that cannot be
// reached keeps nothing from being counted: the increments stay in hand and are stored later.

import { DEFAULTS } from '../config/defaults';

export type Labels = Record<string, string>;

export interface CountIncrement {
  name: string;
  labels: Labels;
  value: number;
}

/**
 * Makes a job's count survive its worker's death without being counted twice. A worker stores the count
 * of an item's outcome before it moves the item's job on; if it dies in between, the job runs again
 * ("stalls"), and its outcome must not be counted a second time. The store keeps a mark on the job's own
 * Redis hash, in the same step as it adds the count (see `countsOnce` for the rule).
 */
export interface OnceMark {
  jobKey: string;
  /** `final`: delivered or failed, once per run of the job; `attempt`: a retry, once per attempt. */
  kind: 'final' | 'attempt';
  /** For `final`, the job's stalled counter as this run found it; for `attempt`, its attempts made. */
  value: number;
}

/**
 * Whether an outcome counts, given the job's previous mark of that kind (undefined: none).
 *
 * `final`: a job that ended is only run again by an operator (replay, the dashboard), and its stalled
 * counter has not moved since its outcome was counted; a job whose worker died after counting has
 * stalled since, so its counter is higher. Its new outcome is counted in the first case only.
 * `attempt`: a retry counts unless this same attempt was counted already.
 */
export function countsOnce(kind: OnceMark['kind'], previous: number | undefined, value: number): boolean {
  if (previous === undefined) return true;
  return kind === 'final' ? value <= previous : value !== previous;
}

export interface OnceIncrement extends CountIncrement {
  once: OnceMark;
}

export type CountTotal = CountIncrement;

export interface CounterStore {
  /** Stores the increments; throws PartialWriteError when only some of them were stored. */
  add(plain: CountIncrement[], once: OnceIncrement[]): Promise<void>;
  read(): Promise<CountTotal[]>;
}

/** Thrown by a store that wrote some increments and not the others: these are the others. */
export class PartialWriteError extends Error {
  constructor(
    readonly plain: CountIncrement[],
    readonly once: OnceIncrement[],
    override readonly cause: unknown,
  ) {
    super(`${plain.length + once.length} count(s) not stored: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** The key a series is stored under: its name and its labels in a fixed order. */
export function seriesKey(name: string, labels: Labels): string {
  const sorted: Labels = {};
  for (const key of Object.keys(labels).sort()) sorted[key] = labels[key];
  return `${name}${JSON.stringify(sorted)}`;
}

/** The inverse of seriesKey; undefined for a key it did not make. */
export function parseSeriesKey(key: string): { name: string; labels: Labels } | undefined {
  const brace = key.indexOf('{');
  if (brace <= 0) return undefined;
  try {
    const labels = JSON.parse(key.slice(brace)) as unknown;
    if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return undefined;
    return { name: key.slice(0, brace), labels: labels as Labels };
  } catch {
    return undefined;
  }
}

/** Adds an increment to its series' row in `rows` (a new row holds its own copy of the labels). */
function addToSeries(rows: Map<string, CountTotal>, inc: CountIncrement): void {
  const key = seriesKey(inc.name, inc.labels);
  const row = rows.get(key);
  if (row) row.value += inc.value;
  else rows.set(key, { name: inc.name, labels: { ...inc.labels }, value: inc.value });
}

/** Counts in this process's memory: for tests and for tools that run without Redis. */
export function memoryCounterStore(): CounterStore {
  const totals = new Map<string, CountTotal>();
  const marks = new Map<string, number>();
  const add = (inc: CountIncrement) => addToSeries(totals, inc);
  return {
    async add(plain, once) {
      plain.forEach(add);
      for (const inc of once) {
        const { jobKey, kind, value } = inc.once;
        const mark = `${jobKey}\u0000${kind}`;
        const counts = countsOnce(kind, marks.get(mark), value);
        marks.set(mark, value);
        if (counts) add(inc);
      }
    },
    async read() {
      return [...totals.values()].map((row) => ({ ...row, labels: { ...row.labels } }));
    },
  };
}

export interface TallyOptions {
  /** Called when the store refuses a write after a good one (once per outage, not once per retry); the increments are kept and written again. */
  onError?: (err: unknown) => void;
  /** Wait before writing again after a refused write. Default DEFAULTS.counts.retryMs. */
  retryMs?: number;
}

export class Tally {
  private sums = new Map<string, CountIncrement>();
  private onces: OnceIncrement[] = [];
  private waiters: Array<() => void> = [];
  private scheduled = false;
  private writing: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private reading?: Promise<CountTotal[]>;
  private readonly declared = new Map<string, CountIncrement>();
  private last: CountTotal[] = [];
  /** A write was refused and none has succeeded since. */
  private failing = false;

  constructor(
    private readonly store: CounterStore,
    private readonly opts: TallyOptions = {},
  ) {}

  /** Series shown at 0 until they are counted, so rate() and alerts work from the start. */
  declare(name: string, labelSets: Labels[]): void {
    for (const labels of labelSets) this.declared.set(seriesKey(name, labels), { name, labels, value: 0 });
  }

  /** Resolves once the increment is stored, or once a write carrying it was refused (it is then kept). */
  record(inc: CountIncrement, once?: OnceMark): Promise<void> {
    if (once) this.onces.push({ ...inc, labels: { ...inc.labels }, once });
    else if (inc.value > 0) this.addToSums(inc);
    else {
      this.declare(inc.name, [{ ...inc.labels }]);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
  }

  /** Writes what is in hand now and waits for it. */
  async flush(): Promise<void> {
    await this.writeNow();
  }

  /** The stored totals plus what is not stored yet; rejects when the store cannot be read. */
  async totals(): Promise<CountTotal[]> {
    await this.writeNow();
    this.reading ??= this.store.read().finally(() => {
      this.reading = undefined;
    });
    const stored = await this.reading;
    this.last = this.merge(stored);
    return this.last;
  }

  /** The totals of the last successful read, plus what is in hand (for a scrape while the store is away). */
  lastTotals(): CountTotal[] {
    return this.merge(this.last.filter((row) => row.value > 0));
  }

  private merge(stored: CountTotal[]): CountTotal[] {
    const rows = new Map<string, CountTotal>();
    for (const [key, row] of this.declared) rows.set(key, { ...row });
    const add = (inc: CountIncrement) => addToSeries(rows, inc);
    stored.forEach(add);
    this.sums.forEach(add);
    this.onces.forEach(add);
    return [...rows.values()];
  }

  private addToSums(inc: CountIncrement): void {
    addToSeries(this.sums, inc);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.writeNow();
    });
  }

  /** One write at a time, in order; each takes everything in hand when its turn comes. */
  private writeNow(): Promise<void> {
    // A write that went wrong in an unforeseen way must not stop the ones after it.
    this.writing = this.writing.then(() => this.writeOnce()).catch(() => undefined);
    return this.writing;
  }

  private async writeOnce(): Promise<void> {
    if (this.sums.size === 0 && this.onces.length === 0) {
      this.resolveWaiters(this.waiters.splice(0));
      return;
    }
    const sums = this.sums;
    const onces = this.onces;
    const waiters = this.waiters;
    this.sums = new Map();
    this.onces = [];
    this.waiters = [];
    try {
      await this.store.add([...sums.values()], onces);
      this.failing = false;
    } catch (err) {
      // Keep what was not stored, to be written again (the `once` marks make a repeat harmless for those).
      const unstored = err instanceof PartialWriteError ? err : { plain: [...sums.values()], once: onces };
      for (const inc of unstored.plain) this.addToSums(inc);
      this.onces.unshift(...unstored.once);
      this.retryLater();
      const wasFailing = this.failing;
      this.failing = true;
      if (!wasFailing) this.opts.onError?.(err instanceof PartialWriteError ? err.cause : err);
    } finally {
      // Whatever happened, nobody waits for longer than this one write.
      this.resolveWaiters(waiters);
    }
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.writeNow();
    }, this.opts.retryMs ?? DEFAULTS.counts.retryMs);
    this.retryTimer.unref();
  }

  private resolveWaiters(waiters: Array<() => void>): void {
    for (const resolve of waiters) resolve();
  }
}
