// Per-person order on the way in: each item takes its place in its people's order before its job is
// added (jobs/writer.ts runs `register` beside the message index's claims, before the adds), in the order
// the items were accepted: a request's events in array order, a commit's requests in the order they arrived.
// An item the claims find to be a re-send gives its new place back at once: a re-send takes no new place.
//
// The person keys come from the item the action builds (core/order/rule.ts orderKeysOf), so a mapping
// that sends another identifier orders by that identifier. Building here costs the mapping once more per
// item; the worker builds it again to send it (the item is not stored: it would double a job's size).

import type { GroupToWrite, Registered, WriteOptions } from '../jobs/writer';
import { orderKeysOf, orderKindOf } from '../core/order/rule';
import { transform, type Subscription } from '../core/subscriptions';
import { holderOf, OrderBook, orderText, type SettleOp, type ToRegister } from '../redis/order-book';

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
    return async (groups: ReadonlyArray<{ group: GroupToWrite; index: number; jobId: string }>): Promise<Registered> => {
      const items: Array<ToRegister & { seq: number; g: number; i: number }> = [];
      for (const { group, index: g, jobId } of groups) {
        const subscription = this.byName.get(group.subscription);
        if (!subscription) continue;
        const kind = orderKindOf(group.action);
        const holder = holderOf(group.action, jobId);
        group.events.forEach((event, i) => {
          const built = transform(subscription, event, now, true);
          const keys = built.ok ? orderKeysOf(built.item, kind) : [];
          if (keys.length > 0) items.push({ keys, kind, holder, seq: seqs[g][i], g, i });
        });
      }
      items.sort((a, b) => a.seq - b.seq);
      const placed = items.length > 0 ? await this.book.place(items) : [];
      const order: Array<string[] | undefined> = groups.map(({ group }) => (items.length > 0 ? group.events.map(() => '') : undefined));
      // Marked free when placed (nothing open before it conflicts), so the worker's first run need not ask.
      items.forEach((item, n) => (order[item.g]![item.i] = orderText(placed[n].tickets, placed[n].free)));
      // An event's places, to give back (a re-send, or a failed write): rare, so looked up only then.
      const placesOf = (n: number): SettleOp[] =>
        items[n].keys.map((key, k) => ({ op: 'removeOrphan', entry: { key, ticket: placed[n].tickets[k] }, holder: items[n].holder }));
      const giveBack = async (ops: SettleOp[]) => {
        if (ops.length > 0) await this.book.settle(ops);
      };
      return {
        order,
        release: (g, positions) => {
          const wanted = new Set(positions);
          return giveBack(items.flatMap((item, n) => (item.g === g && wanted.has(item.i) ? placesOf(n) : [])));
        },
        undo: () => giveBack(items.flatMap((_, n) => placesOf(n))),
      };
    };
  }
}
