// Destination settings as Segment users know them (siteId, apiKey, accountRegion) and where they lead.

import type { CustomerIoCredentials, Region } from './types';

export const TRACK_HOSTS: Record<Region, string> = {
  US: 'https://track.customer.io',
  EU: 'https://track-eu.customer.io',
};

/** Segment's spellings of the regions: its setting's two choices, flags included. */
const SEGMENT_REGIONS: Record<Region, string> = { US: 'US 🇺🇸', EU: 'EU 🇪🇺' };

/**
 * Accepts our spelling (`US`, `EU`, any case) and Segment's (`US 🇺🇸`, `EU 🇪🇺`). Missing means US, as in
 * Segment. Anything else (`EU1`, `eu-1`, `APAC`) is an error rather than a silent fallback to US, or a guess
 * at EU: EU data must not go through the US, and a typo should be fixed where it was made.
 */
export function parseRegion(value: unknown): Region {
  if (value === undefined || value === null || value === '') return 'US';
  if (typeof value === 'string') {
    const text = value.trim();
    const code = text.toUpperCase();
    if (code === 'US' || code === 'EU') return code;
    if (text === SEGMENT_REGIONS.US) return 'US';
    if (text === SEGMENT_REGIONS.EU) return 'EU';
  }
  throw new Error(`accountRegion must be "US" or "EU" (or Segment's "US 🇺🇸" / "EU 🇪🇺"), got ${JSON.stringify(value)}`);
}

export function trackBaseUrl(region: Region, trackUrl?: string): string {
  return (trackUrl || TRACK_HOSTS[region]).replace(/\/+$/, '');
}

/**
 * `Basic base64(siteId:apiKey)`, or undefined when both are empty (Segment's destination then sends no
 * header; so do we). The one place the header is made: the client and the stand-in use it too.
 */
export function basicAuthorization(siteId: CustomerIoCredentials['siteId'], apiKey: CustomerIoCredentials['apiKey']): string | undefined {
  if (!siteId && !apiKey) return undefined;
  return `Basic ${Buffer.from(`${siteId}:${apiKey}`).toString('base64')}`;
}
