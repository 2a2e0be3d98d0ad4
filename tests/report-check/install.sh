#!/usr/bin/env bash
# Installs what the report page test needs: Debian's chromium (check.mjs drives it over
# --remote-debugging-pipe, so no npm package) and Node.js >= 20 to run check.mjs. Idempotent.
set -euo pipefail

fail() { echo "tests/report-check/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (check.mjs needs Node.js >= 20)"
major=$(node -p 'process.versions.node.split(".")[0]')
(( major >= 20 )) || fail "node $(node --version) is too old; check.mjs needs Node.js >= 20"

command -v chromium >/dev/null 2>&1 && exit 0
echo "installing headless Chromium for the report page test (Debian package chromium)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || fail "chromium is still not on PATH"
