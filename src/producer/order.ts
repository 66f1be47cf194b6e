// Per-person order on the way in: each new item takes its place in its people's order before its job is
// added (jobs/writer.ts calls `register` between the claims and the adds), in the order the items were
// accepted: a request's events in array order, a commit's requests in the order they arrived.
//
// The person keys come from the item the action builds (core/order/rule.ts orderKeysOf), so a mapping
// that sends another identifier orders by that identifier. Building here costs the mapping once more per
// item; the worker builds it again to send it (the item is not stored: it would double a job's size).

import type { ClaimedGroup, WriteOptions } from '../jobs/writer';
import { orderKeysOf, orderKindOf } from '../core/order/rule';
import { transform, type Subscription } from '../core/subscriptions';
import { holderOf, OrderBook, ticketText, type EntryRef, type SettleOp, type ToRegister } from '../redis/order-book';

export class OrderRegistrar {
  private readonly byName: Map<string, Subscription>;

  constructor(
    private readonly book: OrderBook,
    subscriptions: readonly Subscription[],
  ) {
    this.byName = new Map(subscriptions.map((s) => [s.name, s]));
  }

  /**
   * The writer's `register` step for one commit. `seqs[g][i]`: the place in the commit's accepted order of
   * event i of group g.
   */
  hook(seqs: readonly number[][], now: number): NonNullable<WriteOptions['register']> {
    return async (claimed: ClaimedGroup[]) => {
      const items: Array<ToRegister & { seq: number; g: number; i: number }> = [];
      for (const c of claimed) {
        const subscription = this.byName.get(c.group.subscription);
        if (!subscription) continue;
        const kind = orderKindOf(c.group.action);
        const holder = holderOf(c.group.action, c.jobId);
        c.queued.forEach((position, i) => {
          const built = transform(subscription, c.group.events[position], now);
          const keys = built.ok ? orderKeysOf(built.item, kind) : [];
          if (keys.length > 0) items.push({ keys, kind, holder, seq: seqs[c.index][position], g: c.index, i });
        });
      }
      items.sort((a, b) => a.seq - b.seq);
      const tickets = items.length > 0 ? await this.book.register(items) : [];
      const order: Array<string[] | undefined> = claimed.map((c) => (c.queued.length > 0 ? c.queued.map(() => '') : undefined));
      const entries: Array<{ entry: EntryRef; holder: string }> = [];
      items.forEach((item, n) => {
        order[item.g]![item.i] = tickets[n].map(ticketText).join(',');
        item.keys.forEach((key, k) => entries.push({ entry: { key, ticket: tickets[n][k] }, holder: item.holder }));
      });
      const undo = async () => {
        const ops: SettleOp[] = entries.map(({ entry, holder }) => ({ op: 'removeOrphan', entry, holder }));
        if (ops.length > 0) await this.book.settle(ops);
      };
      return { order: items.length > 0 ? order : claimed.map(() => undefined), undo };
    };
  }
}
