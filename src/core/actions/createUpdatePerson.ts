import { convertsTimestamps, finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, pathOr, type Fields } from './fields';
import { convertAttributeTimestamps, epochNumber, isPlainObject } from './timestamps';
import type { ActionDefinition } from './types';

const fields = {
  id: { label: 'Person ID', type: 'string', default: pathOr('$.userId', '$.traits.email') },
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  email: { label: 'Email Address', type: 'string', default: { '@template': '{{traits.email}}' } },
  created_at: { label: 'Created At', type: 'string', default: pathOr('$.traits.created_at', '$.traits.createdAt') },
  group_id: { label: 'Object ID', type: 'string', default: path('$.traits.objectId') },
  custom_attributes: { label: 'Person Attributes', type: 'object', default: path('$.traits') },
  relationship_attributes: {
    label: 'Relationship Attributes',
    type: 'object',
    default: path('$.traits.relationshipAttributes'),
  },
  timestamp: { label: 'Timestamp', type: 'string', default: path('$.timestamp') },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  object_type_id: {
    label: 'Object Type Id',
    type: 'string',
    default: pathOr('$.traits.object_type_id', '$.traits.objectTypeId'),
  },
  ...BATCHING_FIELDS,
} satisfies Fields;

// Keys of the traits that steer the item rather than describe the person.
const STEERING_TRAITS = new Set(['createdAt', 'created_at', 'object_type_id', 'relationshipAttributes', 'objectTypeId']);

export const createUpdatePerson: ActionDefinition & { key: 'createUpdatePerson' } = {
  key: 'createUpdatePerson',
  title: 'Create or Update Person',
  defaultSubscription: 'type = "identify"',
  fields,
  delivery: 'batch',
  build(payload) {
    const { custom_attributes, relationship_attributes, created_at, group_id, object_type_id, email } = payload;
    const convert = convertsTimestamps(payload);
    const attributes: Record<string, unknown> = {};
    if (isPlainObject(custom_attributes)) {
      for (const key of Object.keys(custom_attributes)) {
        if (!STEERING_TRAITS.has(key)) attributes[key] = custom_attributes[key];
      }
    }
    // D3: an epoch that arrived as a number or digit string is sent as a number.
    if (created_at) attributes.created_at = epochNumber(created_at) ?? created_at;
    if (email) attributes.email = email;

    const body: Record<string, unknown> = { type: 'person', action: 'identify', attributes };
    if (group_id) {
      const relationship: Record<string, unknown> = {
        identifiers: { object_type_id: object_type_id ?? '1', object_id: group_id },
      };
      if (relationship_attributes) {
        // D10: relationship attributes are converted like the person's own attributes.
        relationship.relationship_attributes =
          convert && isPlainObject(relationship_attributes)
            ? convertAttributeTimestamps(relationship_attributes)
            : relationship_attributes;
      }
      body.cio_relationships = [relationship];
    }
    const steering = { convert, person_id: payload.id, anonymous_id: payload.anonymous_id, email, timestamp: payload.timestamp };
    return withIdentifiers(finishEntity(body, steering), NEEDS_PERSON);
  },
};
