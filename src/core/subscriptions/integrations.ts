// The `integrations` object of a Segment event can switch destinations off for that event:
// `{"All": false}` turns every destination off unless it is named and switched on, and
// `{"<destination name>": false}` turns one off. This destination answers to the names below; an
// object value (destination-specific options) counts as switched on, as in Segment.

const NAMES = ['Actions Customerio', 'Customer.io Actions', 'Customer.io (Actions)'] as const;

const hasOwn = Object.prototype.hasOwnProperty;

/** True when the event's `integrations` object switches this destination off. */
export function isDisabledByIntegrations(event: unknown): boolean {
  if (!isRecord(event) || !hasOwn.call(event, 'integrations')) return false;
  const integrations = event.integrations;
  if (!isRecord(integrations)) return false;

  let namedOn = false;
  for (const name of NAMES) {
    if (!hasOwn.call(integrations, name)) continue;
    const flag = integrations[name];
    // Any of our names set to false wins, even if another of them is set to true.
    if (flag === false) return true;
    if (flag === true || isRecord(flag)) namedOn = true;
  }
  return hasOwn.call(integrations, 'All') && integrations.All === false && !namedOn;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
