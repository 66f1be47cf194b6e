// Mocha's settings. Every test file runs unless test files are named on the command line
// (`npm test -- test/deploy/k8s.test.ts`, `npx mocha test/deploy`): mocha would add the named files to a
// configured spec rather than run only them, so the spec is set only when none is named.
const named = process.argv.slice(2).some((arg) => !arg.startsWith('-') && /^(\.\/)?test\//.test(arg));

module.exports = {
  require: ['tsx/cjs', 'test/support/root-hooks.ts'],
  extension: ['ts'],
  ...(named ? {} : { spec: ['test/**/*.test.ts'] }),
  timeout: 20000,
  exit: true,
};
