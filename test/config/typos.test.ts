// A misspelt key or region in CIO_CONFIG is refused, naming the closest valid key, rather than ignored: an
// ignored `enabeld: false` leaves a subscription on, an ignored `acountRegion` sends EU data to the US.
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { closestKey, editDistance, unknownKeys } from '../../src/core/suggest';
import { configRefusal, withConfigFile } from '../support/config-file';

const withFile = withConfigFile;
const refusal = configRefusal;
const orders = { name: 'Orders', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: { '@path': '$.event' } }, enabled: true };

describe('configuration typos', () => {
  describe('editDistance and closestKey', () => {
    it('counts inserts, deletes, replaces and a swap of neighbours as one edit each, ignoring case', () => {
      expect(editDistance('enabled', 'enabled')).to.equal(0);
      expect(editDistance('enabeld', 'enabled')).to.equal(1);
      expect(editDistance('tigger', 'trigger')).to.equal(1);
      expect(editDistance('acountRegion', 'accountRegion')).to.equal(1);
      expect(editDistance('mappings', 'mapping')).to.equal(1);
      expect(editDistance('Name', 'name')).to.equal(0);
      expect(editDistance('', 'abc')).to.equal(3);
      expect(editDistance('kitten', 'sitting')).to.equal(3);
    });

    it('suggests the closest valid key when it is a plausible typo, and nothing otherwise', () => {
      const keys = ['name', 'action', 'trigger', 'mapping', 'enabled'];
      expect(closestKey('enabeld', keys)).to.equal('enabled');
      expect(closestKey('tigger', keys)).to.equal('trigger');
      expect(closestKey('Mapping', keys)).to.equal('mapping');
      expect(closestKey('destinationId', keys)).to.equal(undefined);
      expect(closestKey('xyz', keys)).to.equal(undefined);
    });

    it('names each unknown key with its suggestion, then the valid keys; nothing when all are known', () => {
      expect(unknownKeys(['name', 'enabled'], ['name', 'enabled'])).to.equal(undefined);
      expect(unknownKeys(['enabeld', 'colour'], ['name', 'enabled'])).to.equal(
        'unknown keys "enabeld" (did you mean "enabled"?), "colour"; the keys are name, enabled',
      );
    });
  });

  it('refuses an unknown key in a subscription, naming the subscription and the closest key', () => {
    expect(refusal(withFile({ subscriptions: [{ ...orders, enabled: undefined, enabeld: false }] }))).to.equal(
      'subscription "Orders": unknown key "enabeld" (did you mean "enabled"?); the keys are name, action, partnerAction, trigger, subscribe, mapping, enabled',
    );
    const { trigger, ...untriggered } = orders;
    expect(refusal(withFile({ subscriptions: [{ ...untriggered, tigger: trigger }] }))).to.match(
      /^subscription "Orders": unknown key "tigger" \(did you mean "trigger"\?\)/,
    );
  });

  it('refuses an unknown key in settings, naming the closest key', () => {
    const env = withFile({ settings: { siteId: 's', apiKey: 'k', acountRegion: 'EU' }, subscriptions: [orders] });
    expect(refusal(env)).to.equal(
      `CIO_CONFIG=${env.CIO_CONFIG}: settings: unknown key "acountRegion" (did you mean "accountRegion"?); the keys are siteId, apiKey, accountRegion`,
    );
    expect(refusal(withFile({ settings: ['EU'] }))).to.match(/settings must be an object/);
  });

  it('refuses an unknown top-level key, naming the closest key', () => {
    const env = withFile({ subscription: [orders] });
    expect(refusal(env)).to.equal(`CIO_CONFIG=${env.CIO_CONFIG}: unknown key "subscription" (did you mean "subscriptions"?); the keys are settings, subscriptions`);
  });

  it('refuses a region that is neither US nor EU, naming the valid values and where it was set', () => {
    for (const region of ['EU1', 'eu-1', 'E.U.', 'US-east', 'APAC']) {
      expect(refusal({ CUSTOMERIO_REGION: region }), region).to.equal(
        `CUSTOMERIO_REGION: accountRegion must be "US" or "EU" (or Segment's "US 🇺🇸" / "EU 🇪🇺"), got ${JSON.stringify(region)}`,
      );
    }
    const env = withFile({ settings: { accountRegion: 'EU1' } });
    expect(refusal(env)).to.equal(`CIO_CONFIG=${env.CIO_CONFIG}: settings: accountRegion must be "US" or "EU" (or Segment's "US 🇺🇸" / "EU 🇪🇺"), got "EU1"`);
  });

  it('still loads a valid configuration, with every key and Segment’s spellings', () => {
    const env = withFile({
      settings: { siteId: 's', apiKey: 'k', accountRegion: 'EU 🇪🇺' },
      subscriptions: [orders, { name: 'People', partnerAction: 'createUpdatePerson', subscribe: 'type = "identify"', enabled: false }],
    });
    const config = loadConfig(env);
    expect(config.customerio.region).to.equal('EU');
    expect(config.subscriptions.map((s) => [s.name, s.action, s.spec.enabled])).to.deep.equal([
      ['Orders', 'trackEvent', true],
      ['People', 'createUpdatePerson', false],
    ]);
    expect(loadConfig({ CUSTOMERIO_REGION: ' eu ' }).customerio.region).to.equal('EU');
    expect(loadConfig({ CUSTOMERIO_REGION: 'US 🇺🇸' }).customerio.region).to.equal('US');
  });
});
