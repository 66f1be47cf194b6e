import { BATCHING_FIELDS, path, type Fields } from './fields';
import { convertValidTimestamp } from './timestamps';
import type { ActionDefinition } from './types';

const METRICS = ['delivered', 'opened', 'clicked', 'converted', 'spammed', 'bounced', 'dropped', 'deferred'] as const;

const fields = {
  delivery_id: { label: 'Delivery ID', type: 'string', required: true, default: path('$.properties.deliveryId') },
  metric: { label: 'Metric', type: 'string', required: true, default: path('$.properties.metric'), choices: METRICS },
  recipient: { label: 'Recipient', type: 'string', default: path('$.properties.recipient') },
  reason: { label: 'Reason', type: 'string', default: path('$.properties.reason') },
  href: { label: 'Href', type: 'string', default: path('$.properties.href') },
  action_name: { label: 'Action Name', type: 'string', default: path('$.properties.actionName') },
  action_value: { label: 'Action Value', type: 'string', default: path('$.properties.actionValue') },
  timestamp: { label: 'Timestamp', type: 'datetime', default: path('$.timestamp') },
  ...BATCHING_FIELDS,
} satisfies Fields;

export const reportDeliveryEvent: ActionDefinition & { key: 'reportDeliveryEvent' } = {
  key: 'reportDeliveryEvent',
  title: 'Report Delivery Event',
  defaultSubscription: 'event = "Report Delivery Event"',
  fields,
  // Delivery metrics have no v2 batch form: each goes on its own to /api/v1/metrics (deviation D8).
  delivery: 'metrics',
  build(payload, { now }) {
    const { delivery_id, metric, recipient, reason, href, action_name, action_value } = payload;
    let timestamp = Number(convertValidTimestamp(payload.timestamp));
    if (Number.isNaN(timestamp)) timestamp = Math.floor(now / 1000);

    const item: Record<string, unknown> = { delivery_id, metric, timestamp };
    if (recipient) item.recipient = recipient;
    if (reason) item.reason = reason;
    if (href) item.href = href;
    if (action_name || action_value) {
      const metadata: Record<string, unknown> = {};
      if (action_name) metadata.action_name = action_name;
      if (action_value) metadata.action_value = action_value;
      item.metadata = metadata;
    }
    return { ok: true, item };
  },
};
