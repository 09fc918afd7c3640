# Debian packages the build, the tests, the benchmark and the demo need;
# sourced by the entry-point scripts.  deps_install GROUP... installs the
# missing ones with apt-get (as root, or through sudo).

DEPS_build="meson ninja-build gcc pkg-config protobuf-c-compiler libprotobuf-c-dev librdkafka-dev libmicrohttpd-dev libjansson-dev libssl-dev
            postgresql-server-dev-15 libpq-dev"
DEPS_test="postgresql-15 python3 python3-psycopg2 python3-pytest python3-confluent-kafka util-linux
           docker-compose"
DEPS_bench="postgresql-15-decoderbufs postgresql-15-wal2json gnuplot-nox"
DEPS_demo="postgresql-15 python3 python3-psycopg2 python3-confluent-kafka util-linux"
# Real Apache Kafka brokers (tests/support/kafkacluster.py): a JDK 17 runs
# them, Maven fetches them from Maven Central.
DEPS_kafka="default-jre-headless maven python3 python3-confluent-kafka"
# The fuzz targets (tests/fuzz): clang, its libFuzzer and sanitizer runtimes,
# and llvm-symbolizer (in llvm-14) for readable stack traces.
DEPS_fuzz="clang-14 libclang-rt-14-dev llvm-14"

deps_install() {
    local want=() missing=() pkg group var
    for group in "$@"; do
        var="DEPS_$group"
        want+=(${!var})
    done
    for pkg in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The Kafka broker's jars into Maven's local repository (first time only;
# offline afterwards).  Needs the kafka group installed.
deps_fetch_kafka() {
    /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/kafkacluster.py" fetch >&2
}
