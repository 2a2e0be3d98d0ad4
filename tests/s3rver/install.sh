#!/usr/bin/env bash
# Installs s3rver 3.7.1 (the S3 server our storage tests run against) into .tools/s3rver and fixes
# its XML namespace: s3rver writes xmlns="http://doc.s3.amazonaws.com/2006-03-01/", while AWS and
# the Minio SDK expect "http://s3.amazonaws.com/doc/2006-03-01/", so ListObjects and friends parse
# as empty until the four occurrences are corrected. Idempotent: a finished install is left alone.
set -euo pipefail

VERSION=3.7.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="$ROOT/.tools/s3rver"
PKG="$PREFIX/node_modules/s3rver"
MARKER="$PREFIX/.installed-$VERSION-xmlns-fixed"
WRONG='http://doc.s3.amazonaws.com/2006-03-01/'
RIGHT='http://s3.amazonaws.com/doc/2006-03-01/'
FILES=(lib/controllers/bucket.js lib/controllers/object.js lib/controllers/service.js)
# Occurrences of the wrong namespace per file, and of the right one already there (object.js has one).
WRONG_PER_FILE=(2 1 1)
RIGHT_PER_FILE=(0 1 0)

fail() { echo "tests/s3rver/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (s3rver needs Node.js >= 12)"
command -v npm >/dev/null || fail "npm is not installed"

if [[ -f "$MARKER" && -f "$PKG/package.json" ]] \
   && grep -q "\"version\": \"$VERSION\"" "$PKG/package.json"; then
  exit 0
fi

rm -f "$MARKER"
mkdir -p "$PREFIX"
# A private package.json keeps npm from walking up into the repository.
[[ -f "$PREFIX/package.json" ]] || echo '{"name":"fastreid-s3rver-tools","private":true}' > "$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --save-exact "s3rver@$VERSION" >&2

grep -q "\"version\": \"$VERSION\"" "$PKG/package.json" \
  || fail "npm installed a version of s3rver other than $VERSION into $PKG"

for i in "${!FILES[@]}"; do
  f="$PKG/${FILES[$i]}"
  [[ -f "$f" ]] || fail "$f is missing: s3rver $VERSION no longer has the layout this fix expects"
  wrong=$(grep -cF "$WRONG" "$f" || true)
  right=$(grep -cF "$RIGHT" "$f" || true)
  want_wrong=${WRONG_PER_FILE[$i]}
  want_right=${RIGHT_PER_FILE[$i]}
  fixed_right=$((want_wrong + want_right))
  if [[ "$wrong" == "$want_wrong" && "$right" == "$want_right" ]]; then
    sed -i "s#${WRONG}#${RIGHT}#g" "$f"
  elif [[ "$wrong" == 0 && "$right" == "$fixed_right" ]]; then
    : # fixed by an earlier, interrupted run
  else
    fail "$f has $wrong occurrence(s) of $WRONG and $right of $RIGHT; expected $want_wrong and $want_right (or 0 and $fixed_right once fixed). The file changed: review the namespace fix."
  fi
done

touch "$MARKER"
echo "s3rver $VERSION installed in $PREFIX (xmlns fixed)" >&2
