import { convertsTimestamps, finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, type Fields } from './fields';
import { RESERVED_TRACK_EVENTS } from '../types';
import type { ActionDefinition } from './types';

const fields = {
  id: { label: 'Person ID', type: 'string', default: path('$.userId') },
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  name: { label: 'Event Name', type: 'string', required: true, default: path('$.event') },
  event_id: { label: 'Event ID', type: 'string', default: path('$.messageId') },
  timestamp: { label: 'Timestamp', type: 'string', default: path('$.timestamp') },
  data: { label: 'Event Attributes', type: 'object', default: path('$.properties') },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  ...BATCHING_FIELDS,
} satisfies Fields;

export const trackEvent: ActionDefinition & { key: 'trackEvent' } = {
  key: 'trackEvent',
  title: 'Track Event',
  defaultSubscription: ['type = "track"', ...RESERVED_TRACK_EVENTS.map((e) => `event != "${e}"`)].join(' and '),
  fields,
  delivery: 'batch',
  build(payload) {
    const p = payload;
    const body: Record<string, unknown> = { type: 'person', action: 'event', name: p.name };
    // The event id lets Customer.io drop duplicates of a re-sent event.
    if (p.event_id !== undefined) body.id = p.event_id;
    if (p.data !== undefined) body.attributes = p.data;
    const steering = { convert: convertsTimestamps(p), person_id: p.id, anonymous_id: p.anonymous_id, timestamp: p.timestamp };
    return withIdentifiers(finishEntity(body, steering), NEEDS_PERSON);
  },
};
