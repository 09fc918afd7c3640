#!/usr/bin/env bash
# The local demo, from a fresh clone (Debian 12, root or sudo): installs what
# is missing, builds, then runs demo/demo.py with the arguments given
# (--duration S, --orders-rate N, --employee-rate N, --keep; --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/support/deps.sh
deps_install build demo

if [ ! -d build ]; then
    meson setup build >/dev/null
fi
meson compile -C build >/dev/null
exec /usr/bin/python3 demo/demo.py --build build "$@"
