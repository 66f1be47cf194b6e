// What a settled group job returns: shown in Bull Board as the job's result, and read by `trace`. It
// stays small (it lives in Redis as long as the job): no copy of an item, only the facts of the requests
// the items went in; `trace` rebuilds an item from its event. Pure: no I/O.

/** One request to Customer.io, as a job's items saw it. */
export interface RequestRecord {
  /** When it was sent (epoch ms). */
  at: number;
  /** Customer.io's HTTP status; absent when no answer came (a timeout, a connection error). */
  status?: number;
  /** Items in the request (it may carry items of other jobs too). */
  size: number;
}

export interface GroupResult {
  delivered: number;
  /** Customer.io's statuses for the delivered items. */
  statuses: number[];
  failed: number;
  retrying: number;
  waiting: number;
  /** Where the items that did not end here went: job id → their messageIds. */
  moved?: Record<string, string[]>;
  /** The requests this job's items went in, each once, in the order sent. */
  requests?: RequestRecord[];
  /**
   * For each event of the job, in order: the index in `requests` of the request it went in (the last
   * one, when it was sent again in a smaller request), or -1 when it was not sent (its mapping failed,
   * it was too large). Absent when every event went in `requests[0]`.
   */
  sentIn?: number[];
  /**
   * Why the items moved to the retry job go again, and why those moved to the waiting job wait (a 429,
   * refused credentials): job id → reason. A failed job of one item carries its own reason.
   */
  why?: Record<string, string>;
}

/** `requests` and `sentIn` of a result, from the request each event went in (by event, in order). */
export function requestFacts(sent: ReadonlyArray<RequestRecord | undefined>): Pick<GroupResult, 'requests' | 'sentIn'> {
  const requests: RequestRecord[] = [];
  const sentIn = sent.map((request) => {
    if (!request) return -1;
    let i = requests.indexOf(request);
    if (i < 0) i = requests.push(request) - 1;
    return i;
  });
  if (requests.length === 0) return {};
  return sentIn.every((i) => i === 0) ? { requests } : { requests, sentIn };
}

/** The request the event at `index` of the job went in, if the job's result says. */
export function requestOf(result: GroupResult | undefined, index: number): RequestRecord | undefined {
  if (!result?.requests || index < 0) return undefined;
  const i = result.sentIn ? result.sentIn[index] : 0;
  return i === undefined || i < 0 ? undefined : result.requests[i];
}
