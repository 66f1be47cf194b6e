import { convertsTimestamps, finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, type Fields } from './fields';
import type { ActionDefinition } from './types';

const fields = {
  id: { label: 'Person ID', type: 'string', default: path('$.userId') },
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  event_id: { label: 'Event ID', type: 'string', default: path('$.messageId') },
  name: { label: 'Screen name', type: 'string', required: true, default: path('$.name') },
  timestamp: { label: 'Timestamp', type: 'string', default: path('$.timestamp') },
  data: { label: 'Event Attributes', type: 'object', default: path('$.properties') },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  ...BATCHING_FIELDS,
} satisfies Fields;

export const trackScreenView: ActionDefinition & { key: 'trackScreenView' } = {
  key: 'trackScreenView',
  title: 'Track Screen View',
  defaultSubscription: 'type = "screen"',
  fields,
  delivery: 'batch',
  build(payload) {
    const p = payload;
    const body: Record<string, unknown> = { type: 'person', action: 'screen', name: p.name };
    if (p.data !== undefined) body.attributes = p.data;
    if (p.event_id) body.id = p.event_id;
    const steering = { convert: convertsTimestamps(p), person_id: p.id, anonymous_id: p.anonymous_id, timestamp: p.timestamp };
    return withIdentifiers(finishEntity(body, steering), NEEDS_PERSON);
  },
};
