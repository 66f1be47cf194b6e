import { convertsTimestamps, finishEntity, NEEDS_OBJECT, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, pathOr, type Fields } from './fields';
import { personIdentifier } from './identifiers';
import { convertAttributeTimestamps, convertIsoString, epochNumber, isPlainObject } from './timestamps';
import type { ActionDefinition } from './types';

const fields = {
  id: { label: 'Object ID', type: 'string', required: true, default: path('$.groupId') },
  created_at: { label: 'Created At', type: 'string', default: pathOr('$.traits.created_at', '$.traits.createdAt') },
  custom_attributes: { label: 'Object Attributes', type: 'object', default: path('$.traits.objectAttributes') },
  relationship_attributes: {
    label: 'Relationship Attributes',
    type: 'object',
    default: path('$.traits.relationshipAttributes'),
  },
  user_id: { label: 'User ID', type: 'string', default: path('$.userId') },
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  object_type_id: {
    label: 'Object Type Id',
    type: 'string',
    default: pathOr('$.traits.object_type_id', '$.traits.objectTypeId'),
  },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  ...BATCHING_FIELDS,
} satisfies Fields;

// Keys of the object attributes that steer the item rather than describe the object.
const STEERING_ATTRIBUTES = new Set(['object_type_id', 'objectTypeId', 'relationshipAttributes']);

export const createUpdateObject: ActionDefinition & { key: 'createUpdateObject' } = {
  key: 'createUpdateObject',
  title: 'Create or Update Object',
  defaultSubscription: 'type = "group"',
  fields,
  delivery: 'batch',
  build(payload) {
    const { id, created_at, custom_attributes, relationship_attributes, user_id, anonymous_id, object_type_id } =
      payload;
    const convert = convertsTimestamps(payload);
    // D2: ids are sent exactly as given; only attribute objects and created_at are converted.
    let relationshipAttributes = relationship_attributes;
    if (convert && isPlainObject(relationshipAttributes)) relationshipAttributes = convertAttributeTimestamps(relationshipAttributes);
    const relationship = (identifiers: unknown) =>
      relationshipAttributes ? { identifiers, relationship_attributes: relationshipAttributes } : { identifiers };

    let action = 'identify';
    let relationships: unknown[] | undefined;
    if (user_id) {
      relationships = [relationship(personIdentifier(String(user_id)))];
    } else if (anonymous_id) {
      action = 'identify_anonymous';
      relationships = [relationship({ anonymous_id })];
    }

    const body: Record<string, unknown> = { type: 'object', action };
    // The reference sends created_at at the root of an object item, not in its attributes.
    if (created_at) body.created_at = epochNumber(created_at) ?? (convert ? convertIsoString(created_at) : created_at);
    if (custom_attributes !== undefined) body.attributes = objectAttributes(custom_attributes, convert);
    if (relationships) body.cio_relationships = relationships;
    const steering = { convert: false, anonymous_id, object_id: id, object_type_id: object_type_id ?? '1' };
    return withIdentifiers(finishEntity(body, steering), NEEDS_OBJECT);
  },
};

function objectAttributes(value: unknown, convert: boolean): unknown {
  if (!isPlainObject(value)) return value;
  const attributes: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!STEERING_ATTRIBUTES.has(key)) attributes[key] = value[key];
  }
  return convert ? convertAttributeTimestamps(attributes) : attributes;
}
