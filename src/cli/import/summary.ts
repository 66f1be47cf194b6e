// The summary on stdout at the end of a run, whether it finished or was stopped.

import { formatDuration, plural, table } from '../args';
import type { Counts } from './counts';

export interface RunTotals {
  /** For the whole file, earlier runs included. */
  counts: Counts;
  startedAt: number;
  /** Events the producer took in this run. */
  eventsThisRun: number;
  /** The line this run started after (0 unless it resumed). */
  startLine: number;
  /** The last line fully queued. */
  line: number;
}

export function printSummary(out: (line: string) => void, heading: string, run: RunTotals): void {
  const c = run.counts;
  const elapsed = Date.now() - run.startedAt;
  const perSecond = Math.round(run.eventsThisRun / Math.max(elapsed / 1000, 0.001));
  out(`${heading} in ${formatDuration(elapsed, true)} (${perSecond} events/s).`);
  for (const row of table(summaryRows(c), ['left', 'right', 'left'])) out(`  ${row}`);
  if (run.startLine > 0) {
    out(
      `  resumed at line ${run.startLine + 1}: the counts include lines 1–${run.startLine} from an earlier run ` +
        `(this run: ${run.line - run.startLine} lines, ${run.eventsThisRun} events)`,
    );
  }
}

function summaryRows(c: Counts): string[][] {
  const byAction = Object.entries(c.itemsByAction)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');
  // Events, not jobs: a job carries a group of events, and how many jobs a run made says nothing useful.
  const rows: string[][] = [
    ['lines read', String(c.lines), ''],
    ['events queued', String(c.queued), byAction ? `(items by action: ${byAction})` : ''],
    ['already queued', String(c.alreadyQueued), c.alreadyQueued > 0 ? '(queued before within the re-send window: not queued again)' : ''],
    ['refused', String(c.bad), c.bad > 0 ? `(${plural(c.bad, 'line')} ${c.badLines.join(', ')}${c.bad > c.badLines.length ? ', …' : ''})` : ''],
    ['filtered', String(c.filteredNoSubscription + c.filteredIntegrations), `(no subscription fired ${c.filteredNoSubscription}, integrations ${c.filteredIntegrations})`],
  ];
  if (c.blank > 0) rows.push(['blank lines', String(c.blank), '(skipped)']);
  return rows;
}
