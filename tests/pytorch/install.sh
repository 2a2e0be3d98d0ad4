#!/usr/bin/env bash
# Installs the PyTorch reference the parity tests compare with: Debian's python3-torch, python3-torchvision and
# python3-pil for /usr/bin/python3 (the PATH's python may be another one, without torch). Idempotent: nothing is
# installed when they already import.
set -euo pipefail
PY=/usr/bin/python3
if [[ -x $PY ]] && $PY -c "import torch, torchvision, PIL" >/dev/null 2>&1; then
  exit 0
fi
echo "installing PyTorch for $PY (Debian packages python3-torch python3-torchvision python3-pil)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-torch python3-torchvision python3-pil >/dev/null
$PY -c "import torch, torchvision, PIL" || { echo "tests/pytorch/install.sh: $PY still cannot import torch, torchvision and PIL" >&2; exit 1; }
