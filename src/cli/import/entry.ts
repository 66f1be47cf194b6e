// What a line of the export becomes on its way to Redis: an event, a bad line with its reason, or a
// blank line (skipped, but counted, and it still moves the checkpoint).

import { MAX_ITEM_BYTES } from '../../core/limits';
import { derivedMessageId, lacksMessageId } from '../../producer/content-id';
import type { Line } from './lines';

export interface Entry {
  n: number;
  /** Byte offset just after the line: where a run resumes once this line is queued. */
  end: number;
  event?: unknown;
  bad?: string;
}

/**
 * The entry of a line. An event without a messageId gets one by the rule every path uses (content-id.ts):
 * the file is one request, so equal lines without a messageId stay distinct events (the second is `-2`)
 * and a repeated or resumed import maps each line onto the same id again. `repeats` is the file's count
 * of equal events so far, updated here.
 */
export function entryOf(line: Line, repeats: Map<string, number>): Entry {
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
  if (typeof event === 'object' && event !== null && !Array.isArray(event)) {
    const e = event as Record<string, unknown>;
    if (lacksMessageId(e)) e.messageId = derivedMessageId(e, repeats);
  }
  return { n, end, event };
}
