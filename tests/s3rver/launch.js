// Starts s3rver (installed by tests/s3rver/install.sh) for the test suite on 127.0.0.1 and a free
// port, prints "S3rver listening on 127.0.0.1:<port>", and exits as soon as its standard input
// closes: the test process holds that pipe, so a crashed or killed test run never leaves a server
// behind. Usage: node tests/s3rver/launch.js <data-directory>
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
