import { BATCHING_FIELDS, path, type Fields } from './fields';
import { personIdentifier } from './identifiers';
import type { ActionDefinition } from './types';

const fields = {
  primary: { label: 'Primary User', type: 'string', required: true, default: path('$.userId') },
  secondary: { label: 'Secondary User', type: 'string', required: true, default: path('$.previousId') },
  ...BATCHING_FIELDS,
} satisfies Fields;

export const mergePeople: ActionDefinition & { key: 'mergePeople' } = {
  key: 'mergePeople',
  title: 'Merge People',
  defaultSubscription: 'type = "alias"',
  fields,
  delivery: 'batch',
  build(payload) {
    // Both people are required fields, so a merge always names them; it carries no root identifiers.
    const item = {
      type: 'person',
      action: 'merge',
      primary: personIdentifier(String(payload.primary)),
      secondary: personIdentifier(String(payload.secondary)),
    };
    return { ok: true, item };
  },
};
