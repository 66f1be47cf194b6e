import { expect } from 'chai';
import { isDisabledByIntegrations } from '../../src/core/subscriptions/integrations';

const NAMES = ['Actions Customerio', 'Customer.io Actions', 'Customer.io (Actions)'];

describe('isDisabledByIntegrations', () => {
  it('is false when the event has no integrations object, or one that is not an object', () => {
    for (const event of [{}, { integrations: null }, { integrations: 'none' }, { integrations: [false] }, null, 'event', undefined]) {
      expect(isDisabledByIntegrations(event), JSON.stringify(event)).to.equal(false);
    }
  });

  it('is true when any of the destination’s names is set to false', () => {
    for (const name of NAMES) {
      expect(isDisabledByIntegrations({ integrations: { [name]: false } }), name).to.equal(true);
    }
  });

  it('is true when All is false and the destination is not named', () => {
    expect(isDisabledByIntegrations({ integrations: { All: false } })).to.equal(true);
    expect(isDisabledByIntegrations({ integrations: { All: false, Mixpanel: true } })).to.equal(true);
  });

  it('is false when All is false but one of the names is set to true', () => {
    for (const name of NAMES) {
      expect(isDisabledByIntegrations({ integrations: { All: false, [name]: true } }), name).to.equal(false);
    }
  });

  it('treats an options object under one of the names as switched on', () => {
    expect(isDisabledByIntegrations({ integrations: { All: false, 'Actions Customerio': { region: 'EU' } } })).to.equal(false);
  });

  it('is true when one name is false even if another is true', () => {
    expect(isDisabledByIntegrations({ integrations: { 'Customer.io (Actions)': true, 'Actions Customerio': false } })).to.equal(true);
  });

  it('is false for other destinations switched off, All: true, or values that are not exactly false', () => {
    expect(isDisabledByIntegrations({ integrations: { Mixpanel: false } })).to.equal(false);
    expect(isDisabledByIntegrations({ integrations: { All: true, Mixpanel: false } })).to.equal(false);
    expect(isDisabledByIntegrations({ integrations: { All: 'false' } })).to.equal(false);
    expect(isDisabledByIntegrations({ integrations: { 'Actions Customerio': 0 } })).to.equal(false);
  });

  it('matches the names exactly, as Segment does', () => {
    expect(isDisabledByIntegrations({ integrations: { 'actions customerio': false } })).to.equal(false);
    expect(isDisabledByIntegrations({ integrations: { 'Customer.io': false } })).to.equal(false);
  });

  it('does not read inherited keys', () => {
    const integrations = Object.create({ All: false });
    expect(isDisabledByIntegrations({ integrations })).to.equal(false);
  });
});
