// `cio-relay preview --event FILE`: the mapping tester. Runs events through the current CIO_CONFIG and
// prints, for each subscription, the item the worker would send or why there is none. It reads the file
// and the configuration only: nothing is sent, and Redis is not opened.

import { readFileSync } from 'node:fs';
import { CannotRunError, EXIT, UsageError, defineCommand, fileErrorReason, plural, refuseArguments } from './args';
import { previewEvent, type EventPreview } from './preview-event';

const options = { event: 'value', subscription: 'value', now: 'value', json: 'flag' } as const;

export const previewCommand = defineCommand({
  name: 'preview',
  summary: 'the items an event becomes with the current CIO_CONFIG, sending nothing',
  options,
  help: `Usage: cio-relay preview --event FILE [--subscription NAME] [--now ISO] [--json]

Runs each event of FILE through the current configuration (CIO_CONFIG) as the
service would: the envelope check and the fields the API fills (messageId,
receivedAt, a missing timestamp), then for each subscription its trigger, the
mapping and the item's validation. Prints for each subscription the item the
worker would send to Customer.io, or why there is none:
  disabled          the subscription has "enabled": false
  integrations      the event's integrations object turns Customer.io off
  no_trigger_match  its trigger does not match the event
  invalid           the mapping or the item's validation refused it (the message)
  too_large         the item is over the item size limit (the item is shown)
An event the API would refuse (no type, too large…) is reported with the reason.
Nothing is sent and Redis is not opened.

Options:
  --event FILE         a JSON event, a JSON array of events, or NDJSON (one event
                       per line); - reads stdin
  --subscription NAME  only this subscription
  --now ISO            the clock (default: now): it fills a missing timestamp
  --json               one JSON array, an entry per event: {index, messageId,
                       refused?, subscriptions: [{subscription, action, item?,
                       none?, reason?}]}
  -h, --help           this text

Environment: CIO_CONFIG, as for the service (without it, the presets).

Exit codes:
  0  every event was read; none refused, no item invalid or too large
  1  an event was refused, or an item is invalid or too large
  2  could not run: bad arguments or configuration, the file unreadable`,

  async run(ctx, { options: opts, positionals }) {
    refuseArguments(positionals);
    if (!opts.event) throw new UsageError('preview needs --event FILE (a JSON event, an array of events, or NDJSON)');
    const now = opts.now === undefined ? Date.now() : Date.parse(opts.now);
    if (Number.isNaN(now)) throw new UsageError(`--now must be an ISO time (2024-05-01T12:00:00Z), got ${JSON.stringify(opts.now)}`);
    const config = ctx.config();
    let subscriptions = config.subscriptions;
    if (opts.subscription !== undefined) {
      subscriptions = subscriptions.filter((s) => s.name === opts.subscription);
      if (subscriptions.length === 0) {
        throw new UsageError(`no subscription named ${JSON.stringify(opts.subscription)}; the subscriptions are ${config.subscriptions.map((s) => JSON.stringify(s.name)).join(', ')}`);
      }
    }
    const events = readEvents(opts.event);
    const previews = events.map((event, index) => previewEvent(event, index, subscriptions, now));

    if (opts.json) ctx.out(JSON.stringify(previews, null, 2));
    else for (const line of describePreviews(previews)) ctx.out(line);
    const problems = previews.some((p) => p.refused || p.subscriptions.some((s) => s.none === 'invalid' || s.none === 'too_large'));
    return problems ? EXIT.problems : EXIT.ok;
  },
});

/** The events of a file: one JSON event, a JSON array of events, or NDJSON. */
export function readEvents(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CannotRunError(`Cannot read ${file} (${fileErrorReason(err)}); nothing was previewed.`);
  }
  try {
    const whole = JSON.parse(text) as unknown;
    return Array.isArray(whole) ? whole : [whole];
  } catch {
    // Not one JSON text: NDJSON, one event per non-empty line.
  }
  const events: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      events.push(JSON.parse(line));
    } catch (err) {
      throw new CannotRunError(`${file} line ${i + 1}: not valid JSON (${(err as Error).message}); the file must be a JSON event, a JSON array of events, or NDJSON. Nothing was previewed.`);
    }
  });
  if (events.length === 0) throw new CannotRunError(`${file} holds no event; nothing was previewed.`);
  return events;
}

/** Subscriptions whose trigger does not match are listed one per line up to this many, else on one line. */
const FOLD_FROM = 3;

/** The previews in lines a person reads: per event, a line per subscription with its item or why none. */
export function describePreviews(previews: EventPreview[]): string[] {
  const lines: string[] = [];
  let items = 0;
  for (const p of previews) {
    if (p.refused) {
      lines.push(`event ${p.index}: refused by the API (400): ${p.refused}`);
      continue;
    }
    lines.push(`event ${p.index} (messageId ${p.messageId}):`);
    const off = p.subscriptions.filter((s) => s.none === 'integrations');
    if (off.length > 0 && off.length === p.subscriptions.length) {
      lines.push(`  no item: ${off[0].reason}`);
      continue;
    }
    // With many subscriptions (the 15 presets), those whose trigger does not match go on one line.
    const unmatched = p.subscriptions.filter((s) => s.none === 'no_trigger_match');
    const folded = unmatched.length > FOLD_FROM;
    for (const s of p.subscriptions) {
      const name = `${s.subscription} (${s.action})`;
      if (s.none === 'no_trigger_match' && folded) continue;
      if (s.none === 'too_large') lines.push(`  ${name}: too_large: ${s.reason}: ${JSON.stringify(s.item)}`);
      else if (s.none) lines.push(`  ${name}: no item, ${s.none}: ${s.reason}`);
      else {
        items++;
        lines.push(`  ${name}: ${JSON.stringify(s.item)}`);
      }
    }
    if (folded) {
      const names = unmatched.map((s) => s.subscription).join(', ');
      lines.push(`  no trigger matched for ${unmatched.length} ${plural(unmatched.length, 'subscription')}: ${names} (--subscription NAME shows one's trigger)`);
    }
  }
  const refused = previews.filter((p) => p.refused).length;
  lines.push(`${previews.length} ${plural(previews.length, 'event')}: ${items} ${plural(items, 'item')} would be sent${refused ? `; ${refused} refused by the API` : ''}. Nothing was sent.`);
  return lines;
}
