// Per-person plans for the ordering tests: each person's operations in the order they are sent, and a
// check of what Customer.io (the stand-in) received: every pair of a person's operations that conflict
// (not both events) must arrive in plan order, re-sends included.

/** The steps of one person's plan; `event`: a track (free among events). */
export const PLAN = [
  { step: 1, what: 'identify' },
  { step: 2, what: 'track', event: true },
  { step: 3, what: 'add_device' },
  { step: 4, what: 'identify' },
  { step: 5, what: 'suppress' },
  { step: 6, what: 'track', event: true },
  { step: 7, what: 'unsuppress' },
  { step: 8, what: 'delete_device' },
  { step: 9, what: 'identify' },
  { step: 10, what: 'merge' },
  { step: 11, what: 'track', event: true },
  { step: 12, what: 'delete' },
] as const;

const TIMESTAMP = '2026-12-01T10:00:00.000Z';

/** The Segment event of step `step` of person `p`. */
export function planEvent(p: string, step: number): Record<string, unknown> {
  const what = PLAN[step - 1].what;
  const base = { messageId: `${p}-${step}`, userId: `user-${p}`, timestamp: TIMESTAMP };
  switch (what) {
    case 'identify':
      return { ...base, type: 'identify', traits: { step, email: `${p}@example.com` } };
    case 'track':
      return { ...base, type: 'track', event: 'Clicked', properties: { step } };
    case 'add_device':
      return { ...base, type: 'track', event: 'Device Created or Updated', context: { device: { token: `tok-${p}`, type: 'ios' } }, properties: { step } };
    case 'delete_device':
      return { ...base, type: 'track', event: 'Device Deleted', context: { device: { token: `tok-${p}`, type: 'ios' } }, properties: { step } };
    case 'suppress':
      return { ...base, type: 'track', event: 'User Suppressed', properties: { step } };
    case 'unsuppress':
      return { ...base, type: 'track', event: 'User Unsuppressed', properties: { step } };
    case 'merge':
      return { ...base, type: 'alias', previousId: `anon-${p}` };
    case 'delete':
      return { ...base, type: 'track', event: 'User Deleted', properties: { step } };
  }
}

const BY_ACTION: Record<string, number> = { add_device: 3, suppress: 5, unsuppress: 7, delete_device: 8, merge: 10, delete: 12 };

/** The person and step of an item the stand-in received, if it is one of a plan's. */
export function planStepOf(item: Record<string, any>): { person: string; step: number } | undefined {
  const id: unknown = item.identifiers?.id ?? item.primary?.id;
  if (typeof id !== 'string' || !id.startsWith('user-')) return undefined;
  const person = id.slice('user-'.length);
  const step = BY_ACTION[item.action] ?? Number(item.attributes?.step);
  return Number.isInteger(step) ? { person, step } : undefined;
}

export interface PlanCheck {
  /** Conflicting pairs (earlier step, later step) of which some arrival of the earlier came after the first arrival of the later. */
  outOfOrder: Array<{ person: string; earlier: number; later: number }>;
  /** Steps that never arrived, per person (refused items are expected here). */
  missing: Array<{ person: string; step: number }>;
}

/** Checks the arrivals (items in the order the stand-in received them) against the plans of `persons`. */
export function checkPlans(items: ReadonlyArray<Record<string, any>>, persons: readonly string[], steps: number = PLAN.length): PlanCheck {
  const arrivals = new Map<string, Array<{ step: number; at: number }>>();
  items.forEach((item, at) => {
    const s = planStepOf(item);
    if (!s) return;
    const list = arrivals.get(s.person) ?? [];
    list.push({ step: s.step, at });
    arrivals.set(s.person, list);
  });
  const outOfOrder: PlanCheck['outOfOrder'] = [];
  const missing: PlanCheck['missing'] = [];
  for (const person of persons) {
    const list = arrivals.get(person) ?? [];
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    for (const { step, at } of list) {
      if (!first.has(step)) first.set(step, at);
      last.set(step, at);
    }
    for (let step = 1; step <= steps; step++) if (!first.has(step)) missing.push({ person, step });
    for (let a = 1; a <= steps; a++) {
      for (let b = a + 1; b <= steps; b++) {
        if ('event' in PLAN[a - 1] && 'event' in PLAN[b - 1]) continue;
        const lastA = last.get(a);
        const firstB = first.get(b);
        if (lastA !== undefined && firstB !== undefined && lastA > firstB) outOfOrder.push({ person, earlier: a, later: b });
      }
    }
  }
  return { outOfOrder, missing };
}

/**
 * Posts each person's plan to the HTTP API at `apiUrl`, one event per request, each request answered (200)
 * before the person's next is sent; persons side by side. `resend`: a request refused with 503 (or one
 * whose connection failed) is sent again after a short wait, as Segment's SDKs do, instead of failing.
 */
export async function postPlans(apiUrl: string, persons: readonly string[], opts: { resend?: boolean } = {}): Promise<void> {
  await Promise.all(
    persons.map(async (person) => {
      for (const { step } of PLAN) {
        for (;;) {
          let status: number;
          let text: string;
          try {
            const res = await fetch(`${apiUrl}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch: [planEvent(person, step)] }) });
            status = res.status;
            text = await res.text();
          } catch (err) {
            if (!opts.resend) throw err;
            status = 0;
            text = (err as Error).message;
          }
          if (status === 200) break;
          if (!opts.resend || (status !== 503 && status !== 0)) throw new Error(`${person}, step ${step}: the API answered ${status} ${text}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
}
