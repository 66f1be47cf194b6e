// The service is built and tested on Node 24 LTS; it starts on 22 (package.json's engines) but says, in one
// line at start, that the runtime is older and how to get Node 24.

export const SUPPORTED_NODE_MAJOR = 24;

/** The warning for a Node older than 24, or undefined. */
export function oldNodeWarning(version: string = process.versions.node): string | undefined {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  if (!(major < SUPPORTED_NODE_MAJOR)) return undefined;
  return (
    `Node ${version} is older than ${SUPPORTED_NODE_MAJOR}, the version cio-relay is tested on; it keeps running. ` +
    `Get Node ${SUPPORTED_NODE_MAJOR} with \`nvm install ${SUPPORTED_NODE_MAJOR}\`, or ` +
    `\`npm install --prefix ~/.cache/cio-relay/node24 node@${SUPPORTED_NODE_MAJOR}\` and ~/.cache/cio-relay/node24/node_modules/.bin first on PATH`
  );
}
