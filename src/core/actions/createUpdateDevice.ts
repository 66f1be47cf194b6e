import { convertsTimestamps, finishEntity, NEEDS_PERSON, withIdentifiers } from './build-payload';
import { BATCHING_FIELDS, CONVERT_TIMESTAMP_FIELD, path, type Fields } from './fields';
import { convertAttributeTimestamps, convertIsoString, epochNumber, isPlainObject } from './timestamps';
import type { ActionDefinition } from './types';

const fields = {
  person_id: { label: 'Person ID', type: 'string', required: true, default: path('$.userId') },
  device_id: { label: 'Device ID', type: 'string', required: true, default: path('$.context.device.token') },
  app_version: { label: 'App Version', type: 'string', default: path('$.context.app.version') },
  platform: { label: 'Platform', type: 'string', required: true, default: path('$.context.device.type') },
  last_used: { label: 'Last Used', type: 'string', default: path('$.timestamp') },
  attributes: { label: 'Event Attributes', type: 'object', default: path('$.properties') },
  convert_timestamp: CONVERT_TIMESTAMP_FIELD,
  ...BATCHING_FIELDS,
} satisfies Fields;

export const createUpdateDevice: ActionDefinition & { key: 'createUpdateDevice' } = {
  key: 'createUpdateDevice',
  title: 'Create or Update Device',
  defaultSubscription: 'event = "Application Installed" or event = "Application Opened" or event = "Device Created or Updated"',
  fields,
  delivery: 'batch',
  build(payload) {
    const { device_id, app_version, platform, last_used, attributes } = payload;
    const convert = convertsTimestamps(payload);
    let deviceAttributes: Record<string, unknown> = isPlainObject(attributes) ? attributes : {};
    if (app_version) deviceAttributes = { ...deviceAttributes, app_version };
    if (convert) deviceAttributes = convertAttributeTimestamps(deviceAttributes);

    const device: Record<string, unknown> = { token: device_id, platform };
    if (last_used !== undefined) device.last_used = sendableLastUsed(last_used, convert);
    device.attributes = deviceAttributes;
    const body = { type: 'person', action: 'add_device', device };
    // The device's dates were converted above; nothing else of this item is an attribute object.
    return withIdentifiers(finishEntity(body, { convert: false, person_id: payload.person_id }), NEEDS_PERSON);
  },
};

// D3: an epoch stays a number; otherwise the attribute rule applies, and only when conversion is on.
function sendableLastUsed(value: unknown, convert: boolean): unknown {
  return epochNumber(value) ?? (convert ? convertIsoString(value) : value);
}
