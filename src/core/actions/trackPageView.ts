import { convertsTimestamps, finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, type Fields } from './fields';
import type { ActionDefinition } from './types';

const fields = {
  id: { label: 'Person ID', type: 'string', default: path('$.userId') },
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  event_id: { label: 'Event ID', type: 'string', default: path('$.messageId') },
  url: { label: 'Page URL', type: 'string', required: true, default: path('$.properties.url') },
  timestamp: { label: 'Timestamp', type: 'string', default: path('$.timestamp') },
  data: { label: 'Event Attributes', type: 'object', default: path('$.properties') },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  ...BATCHING_FIELDS,
} satisfies Fields;

export const trackPageView: ActionDefinition & { key: 'trackPageView' } = {
  key: 'trackPageView',
  title: 'Track Page View',
  defaultSubscription: 'type = "page"',
  fields,
  delivery: 'batch',
  build(payload) {
    const p = payload;
    const body: Record<string, unknown> = { type: 'person', action: 'page', name: p.url };
    if (p.data !== undefined) body.attributes = p.data;
    if (p.event_id) body.id = p.event_id;
    const steering = { convert: convertsTimestamps(p), person_id: p.id, anonymous_id: p.anonymous_id, timestamp: p.timestamp };
    return withIdentifiers(finishEntity(body, steering), NEEDS_PERSON);
  },
};
