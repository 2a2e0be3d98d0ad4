// Starts s3rver (installed by tests/s3rver/install.sh) for the test suite on 127.0.0.1 and a free
// port, prints "S3rver listening on 127.0.0.1:<port>", and exits as soon as its standard input
// closes: the test process holds that pipe, so a crashed or killed test run never leaves a server
// behind. Usage: node tests/s3rver/launch.js <data-directory>
// S3RVER_EXTRA_KEY=<access-key-id>:<secret> adds a key pair besides s3rver's fixed S3RVER:S3RVER, for tests
// whose secret must differ from the access key (a secret printed anywhere is then told apart from the key id).
'use strict';
const path = require('path');

const directory = process.argv[2];
if (!directory) {
  console.error('usage: node tests/s3rver/launch.js <data-directory>');
  process.exit(2);
}

let S3rver;
try {
  S3rver = require(path.join(__dirname, '..', '..', '.tools', 's3rver', 'node_modules', 's3rver'));
} catch (err) {
  console.error('s3rver is not installed: run tests/s3rver/install.sh (make test does it)');
  process.exit(3);
}

const extra = process.env.S3RVER_EXTRA_KEY;
if (extra) {
  const colon = extra.indexOf(':');
  if (colon <= 0) {
    console.error('S3RVER_EXTRA_KEY must be <access-key-id>:<secret>');
    process.exit(2);
  }
  require(path.join(__dirname, '..', '..', '.tools', 's3rver', 'node_modules', 's3rver', 'lib', 'models', 'account'))
    .DUMMY_ACCOUNT.createKeyPair(extra.slice(0, colon), extra.slice(colon + 1));
}

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory })
  .run()
  .then(({ address, port }) => console.log(`S3rver listening on ${address}:${port}`))
  .catch(err => {
    console.error(err);
    process.exit(1);
  });
