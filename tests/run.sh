#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing (Debian 12,
# root or sudo), builds with warnings as errors, runs every test, then runs the
# suites again against a build instrumented with UBSan, then the fuzz targets
# for a bounded time in a clang build.  Ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/support/deps.sh
deps_install build test kafka fuzz
deps_fetch_kafka
# PostgreSQL 14, 16, 17 and 18 (official builds, pinned, from the npm registry) for the pgoutput suites.
/usr/bin/python3 tests/support/pgversions.py fetch

status=0
run_suite() {  # build dir, meson test options, meson setup options...
    local dir=$1 test_opts=$2; shift 2
    if [ -d "$dir" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
    meson compile -C "$dir"
    meson test -C "$dir" --print-errorlogs --num-processes 1 $test_opts || status=1
}

run_suite build-ci "" -Dwerror=true -Dbuildtype=debugoptimized
# The decoder runs inside the server, so ASan (which must be loaded first)
# is out; UBSan, made fatal, aborts the backend on the first undefined behaviour.
# The deployment suite (demo, compose files) runs once, in the first pass, and
# so do the fault suites (kill -9 and restarts: about eleven minutes, mostly
# waiting for consumer groups to rebalance; their code paths run in the
# other suites too) and suite 'once' (tests/meson.build: the command line,
# the test brokers, walstreamer's slots, big transactions and Kafka outages,
# the pgoutput smoke test per PostgreSQL version, whose C paths the other
# suites run too, or unit tests under ASan and UBSan).
UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
    run_suite build-san "--no-suite deploy --no-suite faults --no-suite once" -Dwerror=true -Db_sanitize=undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all

# libFuzzer targets (tests/fuzz: walsink's decoding and COPY renderers, the
# decoder's option parser) in a clang build of their own, under ASan and
# UBSan, each for fuzz_seconds (40 s: about 2.5 minutes in all, with the
# build).  A finding fails its test; the input is left in build-fuzz/tests/fuzz.
CC=clang-14 run_suite build-fuzz "--suite fuzz" -Dfuzz=true -Dwerror=true

python3 tests/support/summary.py build-ci/meson-logs/testlog.json build-san/meson-logs/testlog.json \
    build-fuzz/meson-logs/testlog.json
exit $status
