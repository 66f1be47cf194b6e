import { buildPayload, withIdentifiers } from './build-payload';
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
    const { actionType, data, ...rest } = payload;
    const operation: Record<string, unknown> = { ...rest, name: actionType };
    if (data !== undefined) {
      const { actionType: _steering, ...attributes } = isPlainObject(data) ? data : {};
      operation.attributes = attributes;
    }
    const body = buildPayload({ type: 'person', action: String(actionType), payload: operation });
    // This action has no person id field: only the anonymous id identifies the person.
    return withIdentifiers(body, 'anonymous_id (the only identifier this action sends)');
  },
};
