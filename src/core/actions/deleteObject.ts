import { finishEntity, NEEDS_OBJECT, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, path, pathOr, type Fields } from './fields';
import type { ActionDefinition } from './types';

const fields = {
  object_id: { label: 'Object ID', type: 'string', default: path('$.properties.objectId') },
  object_type_id: {
    label: 'Object Type ID',
    type: 'string',
    default: pathOr('$.properties.object_type_id', '$.properties.objectTypeId'),
  },
  ...BATCHING_FIELDS,
} satisfies Fields;

export const deleteObject: ActionDefinition & { key: 'deleteObject' } = {
  key: 'deleteObject',
  title: 'Delete Object',
  defaultSubscription: 'event = "Object Deleted"',
  fields,
  delivery: 'batch',
  build(payload) {
    const body = { type: 'object', action: 'delete' };
    const steering = { convert: false, object_id: payload.object_id, object_type_id: payload.object_type_id };
    return withIdentifiers(finishEntity(body, steering), NEEDS_OBJECT);
  },
};
