// The tally of an import. It covers the whole file, not only this run: a checkpoint carries it, so the
// summary after a resumed run still counts the lines an earlier run queued.

import type { PublishResult } from '../../producer/publish';

/** Bad line numbers kept for the summary (every bad line is reported on stderr as it is found). */
const BAD_LINES_LISTED = 20;

export interface Counts {
  lines: number;
  blank: number;
  /** Events the producer took: queued, or filtered. */
  events: number;
  /** Events for which at least one subscription fired. */
  queued: number;
  jobs: number;
  jobsByAction: Record<string, number>;
  filteredNoSubscription: number;
  filteredIntegrations: number;
  bad: number;
  badLines: number[];
}

export function emptyCounts(): Counts {
  return {
    lines: 0,
    blank: 0,
    events: 0,
    queued: 0,
    jobs: 0,
    jobsByAction: {},
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
  counts.queued++;
  counts.jobs += result.fired.length;
  for (const name of result.fired) {
    const action = actionOf.get(name) ?? name;
    counts.jobsByAction[action] = (counts.jobsByAction[action] ?? 0) + 1;
  }
}

export function countBadLine(counts: Counts, n: number): void {
  counts.bad++;
  if (counts.badLines.length < BAD_LINES_LISTED) counts.badLines.push(n);
}
