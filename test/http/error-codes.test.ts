// The codes of the HTTP API's refusals are a contract with clients: each is documented in README's answers
// table, and each is sent with the status README gives it.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { API_ERRORS, ApiError, badRequest, type ApiErrorCode } from '../../src/http/errors';

const README = readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');

describe('HTTP API error codes', () => {
  const codes = Object.keys(API_ERRORS) as ApiErrorCode[];

  it('are all documented in README', () => {
    expect(codes.filter((code) => !README.includes(`\`${code}\``))).to.deep.equal([]);
  });

  // Issue 18 point 11: the header promised this check, and only the one above was made.
  it("are each in exactly one row of README's answers table, the row of the status they are sent with, and the table names no other code", () => {
    const table = README.slice(README.indexOf('| status | when |'));
    const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
    expect(rows.length, 'rows of the answers table').to.be.greaterThan(5);
    const documented = new Map<string, number[]>();
    for (const row of rows) {
      const status = Number(/^\| (\d{3})\b/.exec(row)?.[1]);
      expect(status, row.slice(0, 60)).to.be.within(200, 599);
      for (const [, code] of row.matchAll(/`(CIO_ERR_[A-Z_]+)`/g)) documented.set(code, [...(documented.get(code) ?? []), status]);
    }
    expect(Object.fromEntries(documented), 'code: the statuses of the rows naming it').to.deep.equal(Object.fromEntries(codes.map((code) => [code, [API_ERRORS[code]]])));
  });

  it('are CIO_ERR_ names, each sent with a 4xx or 5xx status', () => {
    for (const code of codes) {
      expect(code).to.match(/^CIO_ERR_[A-Z_]+$/);
      expect(new ApiError(code, 'x').statusCode, code).to.be.within(400, 599);
    }
  });

  it('put the code beside the message in a 400, before the per-event errors', () => {
    expect(Object.keys(badRequest('CIO_ERR_BODY_EMPTY', 'empty'))).to.deep.equal(['error', 'code', 'errors']);
  });
});
