// Sample Segment events for the demo: every call type, every reserved event name, and a few that are
// refused (by our validation or by Customer.io) so the report shows reasons too.

type Event = Record<string, unknown>;

export function sampleEvents(): Event[] {
  const at = new Date().toISOString();
  let n = 0;
  const base = (e: Event): Event => ({ messageId: `demo-${Date.now()}-${++n}`, timestamp: at, ...e });
  const device = { device: { token: 'fcm-token-123', type: 'android' }, app: { version: '3.2.1' } };
  return [
    base({ type: 'identify', userId: 'user-1', anonymousId: 'anon-1', traits: { email: 'ada@example.com', plan: 'pro', created_at: '2024-01-15T09:30:00Z' } }),
    base({ type: 'identify', anonymousId: 'anon-2', traits: { plan: 'free' } }),
    base({ type: 'track', userId: 'user-1', event: 'Order Completed', properties: { total: 42.5, currency: 'EUR' } }),
    base({ type: 'page', userId: 'user-1', name: 'Pricing', properties: { url: 'https://example.com/pricing', title: 'Pricing' } }),
    base({ type: 'screen', userId: 'user-1', name: 'Settings', properties: { tab: 'notifications' } }),
    base({ type: 'group', userId: 'user-1', groupId: 'acme', traits: { objectTypeId: '1', objectAttributes: { name: 'Acme Inc', seats: 12 } } }),
    base({ type: 'alias', userId: 'user-1', previousId: 'anon-1' }),
    base({ type: 'track', userId: 'user-1', event: 'Application Installed', context: device }),
    base({ type: 'track', userId: 'user-1', event: 'Device Deleted', context: device }),
    base({ type: 'track', userId: 'user-1', event: 'Relationship Deleted', properties: { objectId: 'acme' } }),
    base({ type: 'track', userId: 'user-9', event: 'User Suppressed' }),
    base({ type: 'track', userId: 'user-9', event: 'User Unsuppressed' }),
    base({ type: 'track', userId: 'user-8', event: 'User Deleted' }),
    base({ type: 'track', userId: 'user-1', event: 'Object Deleted', properties: { objectId: 'old-team' } }),
    base({ type: 'track', userId: 'user-1', event: 'Report Delivery Event', properties: { deliveryId: 'dlv-1', metric: 'opened' } }),
    base({ type: 'track', anonymousId: 'anon-1', event: 'Report Content Event', properties: { actionType: 'viewed_content', contentId: 7 } }),
    // refused by our validation: a page without properties.url
    base({ type: 'page', userId: 'user-1', name: 'No URL', properties: {} }),
    // refused by our validation: an event nobody can be identified for
    base({ type: 'track', event: 'Anonymous Click', properties: {} }),
    // refused by Customer.io: an attribute value over 1000 bytes
    base({ type: 'identify', userId: 'user-2', traits: { bio: 'x'.repeat(1200) } }),
  ];
}
