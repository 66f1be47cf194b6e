import { finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, path, type Fields } from './fields';
import type { ActionDefinition } from './types';

const fields = {
  person_id: { label: 'Person ID', type: 'string', required: true, default: path('$.userId') },
  device_id: { label: 'Device ID', type: 'string', required: true, default: path('$.context.device.token') },
  ...BATCHING_FIELDS,
} satisfies Fields;

export const deleteDevice: ActionDefinition & { key: 'deleteDevice' } = {
  key: 'deleteDevice',
  title: 'Delete Device',
  defaultSubscription: 'event = "Application Uninstalled" or event = "Device Deleted"',
  fields,
  delivery: 'batch',
  build(payload) {
    const body = { type: 'person', action: 'delete_device', device: { token: payload.device_id } };
    return withIdentifiers(finishEntity(body, { convert: false, person_id: payload.person_id }), NEEDS_PERSON);
  },
};
