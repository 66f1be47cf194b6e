import { finishEntity, NEEDS_OBJECT, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, path, pathOr, type Fields } from './fields';
import { resolveIdentifiers } from './identifiers';
import type { ActionDefinition } from './types';

const fields = {
  person_id: { label: 'Person ID', type: 'string', required: true, default: path('$.userId') },
  anonymous_id: { label: 'Anonymous ID', type: 'string', default: path('$.anonymousId') },
  object_id: { label: 'Object ID', type: 'string', required: true, default: path('$.properties.objectId') },
  object_type_id: {
    label: 'Object Type ID',
    type: 'string',
    default: pathOr('$.properties.object_type_id', '$.properties.objectTypeId'),
  },
  ...BATCHING_FIELDS,
} satisfies Fields;

export const deleteRelationship: ActionDefinition & { key: 'deleteRelationship' } = {
  key: 'deleteRelationship',
  title: 'Delete Relationship',
  defaultSubscription: 'event = "Relationship Deleted"',
  fields,
  delivery: 'batch',
  build(payload) {
    // The person side of the relationship; the object is the item's own identifier.
    const person = resolveIdentifiers({ person_id: payload.person_id, anonymous_id: payload.anonymous_id });
    const body = { type: 'object', action: 'delete_relationships', cio_relationships: [{ identifiers: person }] };
    const { person_id, anonymous_id, object_id, object_type_id } = payload;
    return withIdentifiers(finishEntity(body, { convert: false, person_id, anonymous_id, object_id, object_type_id }), NEEDS_OBJECT);
  },
};
