// The tally of an import. It covers the whole file, not only this run: a checkpoint carries it, so the
// summary after a resumed run still counts the lines an earlier run queued.

import type { PublishResult } from '../../producer/publish';

/** Bad line numbers kept for the summary (every bad line is reported on stderr as it is found). */
const BAD_LINES_LISTED = 20;

export interface Counts {
  lines: number;
  blank: number;
  /** Events the producer took: queued, already queued, or filtered. */
  events: number;
  /** Events queued now for at least one subscription. */
  queued: number;
  /** Events every subscription of which had them queued already (a re-send within the window): not queued again. */
  alreadyQueued: number;
  /** Items queued now: one per event and subscription that fired for it, re-sends left out. */
  items: number;
  itemsByAction: Record<string, number>;
  filteredNoSubscription: number;
  filteredIntegrations: number;
  /** Lines refused: not JSON, or an event the producer refused. */
  bad: number;
  badLines: number[];
}

export function emptyCounts(): Counts {
  return {
    lines: 0,
    blank: 0,
    events: 0,
    queued: 0,
    alreadyQueued: 0,
    items: 0,
    itemsByAction: {},
    filteredNoSubscription: 0,
    filteredIntegrations: 0,
    bad: 0,
    badLines: [],
  };
}

/** Counts an event the producer took (`result` without an error); `actionOf` maps a subscription to its action. */
export function countAcceptedEvent(counts: Counts, result: PublishResult, actionOf: ReadonlyMap<string, string>): void {
  counts.events++;
  if (result.filtered === 'integrations') counts.filteredIntegrations++;
  else if (result.filtered === 'no_subscription') counts.filteredNoSubscription++;
  if (result.fired.length === 0) return;
  const already = new Set(result.alreadyQueued);
  const fresh = result.fired.filter((name) => !already.has(name));
  if (fresh.length === 0) {
    counts.alreadyQueued++;
    return;
  }
  counts.queued++;
  counts.items += fresh.length;
  for (const name of fresh) {
    const action = actionOf.get(name) ?? name;
    counts.itemsByAction[action] = (counts.itemsByAction[action] ?? 0) + 1;
  }
}

export function countBadLine(counts: Counts, n: number): void {
  counts.bad++;
  if (counts.badLines.length < BAD_LINES_LISTED) counts.badLines.push(n);
}
