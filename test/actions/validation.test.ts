// The schema step every mapped payload goes through (src/actions/fields.ts), on the inputs where the
// reference's validator (AJV with type coercion) behaves in less obvious ways. The texts are the
// reference's; these cases were checked against @segment/actions-core 3.170.0's validateSchema.
import { expect } from 'chai';
import { validatePayload, type Fields } from '../../src/core/actions/fields';

const FIELDS: Fields = {
  metric: { label: 'Metric', type: 'string', required: true, choices: ['delivered', 'opened'] },
  timestamp: { label: 'Timestamp', type: 'datetime' },
  batch_size: { label: 'Batch Size', type: 'number', minimum: 2, maximum: 100 },
  enable_batching: { label: 'Enable Batching', type: 'boolean' },
  data: { label: 'Data', type: 'object' },
};

const errorOf = (payload: Record<string, unknown>) => {
  const r = validatePayload(FIELDS, { metric: 'opened', ...payload });
  return r.ok ? undefined : r.error;
};
const valueOf = (payload: Record<string, unknown>, key: string) => {
  const r = validatePayload(FIELDS, { metric: 'opened', ...payload });
  if (!r.ok) throw new Error(r.error);
  return r.payload[key];
};

describe('actions: payload validation edge cases', () => {
  it('a value of the wrong type for a field with choices gets the type error and the choices error', () => {
    expect(errorOf({ metric: { a: 1 } })).to.equal('Metric must be a string but it was an object. Metric must be one of: "delivered" or "opened".');
    expect(errorOf({ metric: ['a', 'b'] })).to.equal('Metric must be a string but it was an array. Metric must be one of: "delivered" or "opened".');
    expect(errorOf({ metric: 'clicked' })).to.equal('Metric must be one of: "delivered" or "opened".');
  });

  it('unwraps a one-element array for a scalar field, and names the element when it still does not fit', () => {
    expect(valueOf({ metric: ['opened'] }, 'metric')).to.equal('opened');
    expect(valueOf({ batch_size: ['50'] }, 'batch_size')).to.equal(50);
    expect(errorOf({ enable_batching: ['x'] })).to.equal('Enable Batching must be a boolean but it was a string.');
    expect(errorOf({ batch_size: [{ a: 1 }] })).to.equal('Batch Size must be a number but it was an object.');
    expect(errorOf({ batch_size: [null] }), 'null becomes 0').to.equal('Batch Size must be equal to or greater than 2.');
  });

  it('does not unwrap an array for an object field', () => {
    expect(errorOf({ data: [{ a: 1 }] })).to.equal('Data must be an object but it was an array.');
  });

  it('treats a one-element array for a date field as the reference does', () => {
    expect(valueOf({ timestamp: [1700000000] }, 'timestamp'), 'a number inside becomes text').to.equal('1700000000');
    expect(errorOf({ timestamp: [true] })).to.equal('Timestamp must be a valid date-like string but it was not.');
    expect(errorOf({ timestamp: [null] })).to.equal('Timestamp must be a valid date-like string but it was not.');
    expect(errorOf({ timestamp: ['2024-01-02'] })).to.equal('Timestamp must be a string or number but it was a string.');
    expect(errorOf({ timestamp: ['x'] })).to.equal(
      'Timestamp must be a string or number but it was a string. Timestamp must be a valid date-like string but it was not.',
    );
    expect(errorOf({ timestamp: [{}] })).to.equal('Timestamp must be a string or number but it was an object.');
  });

  it('reads a date string as seconds only when it is a number written plainly', () => {
    expect(valueOf({ timestamp: '1700000000' }, 'timestamp')).to.equal('1700000000');
    expect(valueOf({ timestamp: '0' }, 'timestamp')).to.equal('0');
    for (const text of ['1e3', '0x10', 'NaN', 'Infinity']) {
      expect(errorOf({ timestamp: text }), text).to.equal('Timestamp must be a valid date-like string but it was not.');
    }
    expect(valueOf({ timestamp: 5 }, 'timestamp'), 'a number is not checked as a date').to.equal(5);
  });
});
