// Timestamp rules of the reference destination, read in UTC whatever the process's TZ is (deviation D1).
//
// Two rules exist, and the difference is deliberate (the reference has both):
// - attribute values are converted only when they are strict ISO-8601 strings (isIsoDate);
// - the top-level `timestamp` is read leniently: anything Date can read ("25 Mar 2015") becomes a number.

const ISO_DATE = /^\d{4}-\d{2}-\d{2}((T\d{2}:\d{2}(:\d{2})?)(\.\d{1,9})?(Z|(\+|-)\d{2}:?\d{2})?)?$/;

// The "ISO-ish" shape a date library reads field by field (year, month, day, hour, minute, second, fraction).
// Strings ending in Z are read by Date itself.
const FIELDWISE = /^(\d{4})[-/]?(\d{1,2})?[-/]?(\d{0,2})[Tt\s]*(\d{1,2})?:?(\d{1,2})?:?(\d{1,2})?[.:]?(\d+)?$/;

const DIGITS = /^\d+(\.\d+)?$/;

/** True for strict ISO-8601 dates that Date can read (lenient V8 quirks such as Feb 30 included). */
export function isIsoDate(value: string): boolean {
  return ISO_DATE.test(value) && !Number.isNaN(Date.parse(value));
}

/** True for a string of digits with at most one decimal part: an epoch that arrived as text. */
export function isDigitString(value: string): boolean {
  return DIGITS.test(value);
}

/** Milliseconds since the epoch for a date string, zone-less forms read as UTC; NaN when unreadable. */
export function parseDateUtc(value: string): number {
  if (!/Z$/i.test(value)) {
    const m = FIELDWISE.exec(value);
    if (m) {
      const month = Number(m[2]) - 1 || 0;
      const ms = Number((m[7] || '0').substring(0, 3));
      return Date.UTC(
        Number(m[1]),
        month,
        m[3] ? Number(m[3]) : 1,
        Number(m[4] || 0),
        Number(m[5] || 0),
        Number(m[6] || 0),
        ms,
      );
    }
  }
  return parseWithDateUtc(value);
}

// Date's own parser reads zone-less free-form strings ("25 Mar 2015") in local time. Shift those back so
// the result is the same as on a UTC host. Strings that name a zone or an offset are absolute already.
const NAMES_A_ZONE = /(?:\b(?:UTC?|GMT|[ECMP][SD]T)\b|Z$|[+-]\d{2}:?\d{2}\s*(?:\(.*\))?$)/i;

function parseWithDateUtc(value: string): number {
  const local = Date.parse(value);
  if (Number.isNaN(local) || NAMES_A_ZONE.test(value)) return local;
  const offsetMinutes = new Date(local).getTimezoneOffset();
  return offsetMinutes === 0 ? local : local - offsetMinutes * 60_000;
}

/** Whole seconds since the epoch (milliseconds truncated toward the past, as the reference does). */
function toUnixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Strict attribute rule: an ISO string becomes epoch seconds; anything else is returned unchanged. */
export function convertIsoString(value: unknown): unknown {
  if (typeof value === 'string' && isIsoDate(value)) {
    const ms = parseDateUtc(value);
    if (!Number.isNaN(ms)) return toUnixSeconds(ms);
  }
  return value;
}

/**
 * Converts every strict ISO string inside a plain object, descending into nested objects but not arrays
 * (the reference never descends into arrays). Returns a new object; the input is not modified.
 */
export function convertAttributeTimestamps(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (typeof value === 'string') out[key] = convertIsoString(value);
    else if (isPlainObject(value)) out[key] = convertAttributeTimestamps(value);
    else out[key] = value;
  }
  return out;
}

/**
 * The reference's lenient rule for the top-level timestamp: non-strings unchanged, digit strings unchanged,
 * anything Date can read becomes epoch seconds, the rest unchanged.
 */
export function convertValidTimestamp(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (DIGITS.test(value)) return value;
  const ms = parseDateUtc(value);
  return Number.isNaN(ms) ? value : toUnixSeconds(ms);
}

/**
 * Deviation D3: `timestamp`, `created_at` and device `last_used` that arrive as numbers or digit strings are
 * sent as numbers. Returns the number, or undefined when the value is not such an epoch.
 */
export function epochNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && DIGITS.test(value)) return Number(value);
  return undefined;
}

/** The top-level `timestamp` as we send it: D3 for epochs, the lenient rule otherwise. */
export function sendableTimestamp(value: unknown): unknown {
  return epochNumber(value) ?? convertValidTimestamp(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
