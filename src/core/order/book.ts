// The order book of one person key, as a pure model: the open entries of the key in the order they were
// accepted, and what each may do. redis/order-book.ts keeps the same book in Redis (its Lua scripts follow
// this model line for line, and test/order/book.test.ts runs one table of cases through both).

import { conflicts, type OrderKind } from './rule';

export interface OpenEntry {
  ticket: number;
  kind: OrderKind;
  /** The job holding the item now. */
  holder: string;
}

/** `go`: nothing open before it conflicts; `held`: `blocker` must have an outcome first; `absent`: not open (settled already). */
export type Gate = { verdict: 'go' } | { verdict: 'held'; blocker: OpenEntry } | { verdict: 'absent' };

/** Pure: may the entry `ticket` go, given the key's open entries in accepted order? */
export function gate(open: readonly OpenEntry[], ticket: number): Gate {
  const at = open.findIndex((e) => e.ticket === ticket);
  if (at < 0) return { verdict: 'absent' };
  const mine = open[at];
  for (let i = 0; i < at; i++) if (conflicts(open[i].kind, mine.kind)) return { verdict: 'held', blocker: open[i] };
  return { verdict: 'go' };
}

/**
 * Pure: the entries that may go now (what to wake once an entry settled): the first entry when it is an
 * operation, else every event before the first operation.
 */
export function runnable(open: readonly OpenEntry[]): OpenEntry[] {
  if (open.length === 0) return [];
  if (open[0].kind === 'operation') return [open[0]];
  const out: OpenEntry[] = [];
  for (const e of open) {
    if (e.kind === 'operation') break;
    out.push(e);
  }
  return out;
}

/** A model of the whole book (several keys), for tests and for reasoning: what Redis keeps, in memory. */
export class OrderBookModel {
  private next = 1;
  private readonly open = new Map<string, OpenEntry[]>();

  /** Appends an item touching `keys`; returns its ticket for each key. */
  register(keys: readonly string[], kind: OrderKind, holder: string): number[] {
    return keys.map((key) => {
      const ticket = this.next++;
      const list = this.open.get(key) ?? [];
      list.push({ ticket, kind, holder });
      this.open.set(key, list);
      return ticket;
    });
  }

  /** An item touching several keys goes only when it may go on every one of them. */
  gate(tickets: ReadonlyArray<{ key: string; ticket: number }>): Gate {
    for (const { key, ticket } of tickets) {
      const g = gate(this.open.get(key) ?? [], ticket);
      if (g.verdict !== 'go') return g;
    }
    return { verdict: 'go' };
  }

  /** The item has an outcome (delivered, or failed for good): its entries leave the book. */
  settle(tickets: ReadonlyArray<{ key: string; ticket: number }>): void {
    for (const { key, ticket } of tickets) {
      const list = (this.open.get(key) ?? []).filter((e) => e.ticket !== ticket);
      if (list.length > 0) this.open.set(key, list);
      else this.open.delete(key);
    }
  }

  entries(key: string): readonly OpenEntry[] {
    return this.open.get(key) ?? [];
  }
}
