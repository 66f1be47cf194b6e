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
