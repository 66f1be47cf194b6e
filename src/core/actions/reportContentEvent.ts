import { convertsTimestamps, finishEntity, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, type Fields } from './fields';
import { isPlainObject } from './timestamps';
import type { ActionDefinition } from './types';

const fields = {
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  actionType: {
    label: 'Action Type',
    type: 'string',
    required: true,
    default: path('$.properties.actionType'),
    choices: ['viewed_content', 'clicked_content'],
  },
  timestamp: { label: 'Timestamp', type: 'string', default: path('$.timestamp') },
  data: { label: 'Event Attributes', type: 'object', default: path('$.properties') },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  ...BATCHING_FIELDS,
} satisfies Fields;

export const reportContentEvent: ActionDefinition & { key: 'reportContentEvent' } = {
  key: 'reportContentEvent',
  title: 'Report Content Event',
  defaultSubscription: 'event = "Report Content Event"',
  fields,
  delivery: 'batch',
  build(payload) {
    const p = payload;
    const body: Record<string, unknown> = { type: 'person', action: p.actionType, name: p.actionType };
    if (p.data !== undefined) {
      const { actionType: _steering, ...attributes } = isPlainObject(p.data) ? p.data : {};
      body.attributes = attributes;
    }
    const steering = { convert: convertsTimestamps(p), anonymous_id: p.anonymous_id, timestamp: p.timestamp };
    // This action has no person id field: only the anonymous id identifies the person.
    return withIdentifiers(finishEntity(body, steering), 'anonymous_id (the only identifier this action sends)');
  },
};
