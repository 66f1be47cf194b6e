// What a line of the export becomes on its way to Redis: an event, a bad line with its reason, or a
// blank line (skipped, but counted, and it still moves the checkpoint).

import { createHash } from 'node:crypto';
import { MAX_ITEM_BYTES } from '../../core/limits';
import type { Line } from './lines';

export interface Entry {
  n: number;
  /** Byte offset just after the line: where a run resumes once this line is queued. */
  end: number;
  event?: unknown;
  bad?: string;
}

export function entryOf(line: Line): Entry {
  const { n, end } = line;
  if (line.tooLongBytes !== undefined) {
    return { n, end, bad: `the line is ${line.tooLongBytes} bytes; an event may be at most ${MAX_ITEM_BYTES} bytes` };
  }
  const text = (line.text ?? '').trim();
  if (text === '') return { n, end };
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (err) {
    return { n, end, bad: `not JSON (${(err as Error).message})` };
  }
  giveMessageIdFromText(event, text);
  return { n, end, event };
}

/**
 * Without a messageId the producer would make up a random one, and a resumed or repeated import would
 * queue the event again. One derived from the line's text makes the line idempotent like the others.
 */
function giveMessageIdFromText(event: unknown, text: string): void {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return;
  const e = event as Record<string, unknown>;
  if (e.messageId === undefined || e.messageId === null || e.messageId === '') {
    e.messageId = `import-${createHash('sha1').update(text).digest('base64url')}`;
  }
}
