import { finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, path, type Fields } from './fields';
import type { ActionDefinition } from './types';

const fields = {
  person_id: { label: 'Person ID', type: 'string', required: true, default: path('$.userId') },
  ...BATCHING_FIELDS,
} satisfies Fields;

export const unsuppressPerson: ActionDefinition & { key: 'unsuppressPerson' } = {
  key: 'unsuppressPerson',
  title: 'Unsuppress Person',
  defaultSubscription: 'event = "User Unsuppressed"',
  fields,
  delivery: 'batch',
  build(payload) {
    const body = { type: 'person', action: 'unsuppress' };
    return withIdentifiers(finishEntity(body, { convert: false, person_id: payload.person_id }), NEEDS_PERSON);
  },
};
