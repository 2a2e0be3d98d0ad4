#!/usr/bin/env bash
# Installs the PyTorch reference the parity tests run through /usr/bin/python3: Debian's python3-torch,
# python3-torchvision and python3-pil (PyTorch 1.13, Pillow 9.4 on Debian 12). Debian's python, not a
# pyenv one on PATH, because only the system interpreter sees the Debian packages. Idempotent.
set -euo pipefail

PY=/usr/bin/python3
check() { "$PY" -c "import torch, torchvision, PIL" >/dev/null 2>&1; }

check && exit 0
echo "installing the PyTorch reference (Debian packages python3-torch python3-torchvision python3-pil)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3-torch python3-torchvision python3-pil >/dev/null
check || { echo "tests/pytorch/install.sh: $PY still cannot import torch, torchvision and PIL" >&2; exit 1; }
