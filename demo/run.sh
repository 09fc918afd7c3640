#!/usr/bin/env bash
# The local demo, from a fresh clone (Debian 12, root or sudo): installs what
# is missing, builds, then runs demo/demo.py with the arguments given
# (--duration S, --orders-rate N, --employee-rate N, --broker=kafka|dev,
# --plugin=pgcdc|pgoutput, --format=protobuf|debezium-json, --keep; --help).
# Kafka is a real broker, which needs Java and Maven (its jars come from
# Maven Central on the first run); --broker=dev needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/support/deps.sh

broker=kafka
prev=""
for arg in "$@"; do
    if [ "$arg" = --broker=dev ] || [ "$prev $arg" = "--broker dev" ]; then
        broker=dev
    fi
    prev=$arg
done
if [ "$broker" = dev ]; then
    deps_install build demo
else
    deps_install build demo kafka
    deps_fetch_kafka
fi

if [ ! -d build ]; then
    meson setup build >/dev/null
fi
meson compile -C build >/dev/null
exec /usr/bin/python3 demo/demo.py --build build "$@"
