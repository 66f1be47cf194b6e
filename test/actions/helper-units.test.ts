// vectors/helper-units.json: input/output pairs for the reference's shared helpers.
import { expect } from 'chai';
import { buildPayload } from '../../src/core/actions/build-payload';
import { resolveIdentifiers } from '../../src/core/actions/identifiers';
import { convertAttributeTimestamps, convertValidTimestamp, isIsoDate, sendableTimestamp } from '../../src/core/actions/timestamps';
import { loadVectors } from '../support/vectors';

interface Unit {
  function: 'isIsoDate' | 'resolveIdentifiers' | 'convertValidTimestamp' | 'convertAttributeTimestamps' | 'buildPayload';
  input: any;
  output: any;
  error?: string;
}

const units = loadVectors<Unit[]>('helper-units.json');
const UNDEFINED = '__undefined__';

const run: Record<Unit['function'], (input: any) => unknown> = {
  isIsoDate: (input) => isIsoDate(input),
  resolveIdentifiers: (input) => resolveIdentifiers(input),
  convertValidTimestamp: (input) => convertValidTimestamp(input),
  convertAttributeTimestamps: (input) => convertAttributeTimestamps(input),
  buildPayload: (input) => buildPayload(input),
};

describe('shared helpers (vectors/helper-units.json)', () => {
  it('has all 78 units', () => expect(units).to.have.length(78));

  for (const unit of units) {
    const title = `${unit.function}(${JSON.stringify(unit.input)})`;
    if (unit.error) {
      // The reference throws here ("person_id?.startsWith is not a function"): a number reached a string
      // rule. In the service a number never gets this far (fields are coerced to strings first, as in the
      // reference), and the helper reads it as the id it stands for instead of throwing.
      it(`${title} — the reference throws; we read the number as its text`, () => {
        expect(run[unit.function](unit.input)).to.deep.equal({ id: String(unit.input.person_id) });
      });
      continue;
    }
    it(`${title} → ${JSON.stringify(unit.output)}`, () => {
      const expected = unit.output === UNDEFINED ? undefined : unit.output;
      expect(run[unit.function](unit.input)).to.deep.equal(expected);
    });
  }
});

describe('timestamps we send (deviations D1 and D3)', () => {
  it('D3: an epoch that arrives as a digit string is sent as a number', () => {
    expect(sendableTimestamp('1710506096')).to.equal(1710506096);
    expect(sendableTimestamp('1712345678.123')).to.equal(1712345678.123);
    expect(sendableTimestamp(1710506096)).to.equal(1710506096);
  });

  it('D1: zone-less dates are read as UTC whatever TZ is', () => {
    const saved = process.env.TZ;
    try {
      for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
        process.env.TZ = tz; // Node applies a TZ change at once
        expect(new Date(2024, 0, 1).getTimezoneOffset(), tz).to.equal(tz === 'UTC' ? 0 : tz === 'Asia/Kolkata' ? -330 : 300);
        expect(convertAttributeTimestamps({ d: '2024-03-15', t: '2024-03-15T10:20' }), tz).to.deep.equal({
          d: 1710460800,
          t: 1710498000,
        });
        expect(sendableTimestamp('2024-03-15T12:34:56'), tz).to.equal(1710506096);
        expect(sendableTimestamp('25 Mar 2015'), tz).to.equal(1427241600);
        expect(sendableTimestamp('Tue, 15 Mar 2024 12:00:00 GMT'), tz).to.equal(1710504000);
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
