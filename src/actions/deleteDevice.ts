import { buildPayload, NEEDS_PERSON, withIdentifiers } from './build-payload';
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
    const { device_id, ...rest } = payload;
    const operation = { ...rest, device: { token: device_id } };
    return withIdentifiers(buildPayload({ type: 'person', action: 'delete_device', payload: operation }), NEEDS_PERSON);
  },
};
