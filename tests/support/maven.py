"""Java programs the tests, the demo and the benchmarks run but never copy:
the jars a pinned pom names, resolved by Maven from Maven Central into its
local repository, and the classpath kept in a cache file.

    classpath(pom, name)   the jars, resolved on first use (offline first)
    cache_dir()            $PGCDC_CACHE, else ~/.cache/pgcdc

The cache file is named after the pom's digest and reused while every jar
it lists exists, so only the first call needs the network.
"""

import hashlib
import os
import shutil
import subprocess


def cache_dir():
    base = os.environ.get("PGCDC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pgcdc")
    os.makedirs(base, exist_ok=True)
    return base


def classpath(pom, name):
    """The jars of pom's dependencies; name names the cache file and the
    program in errors (e.g. "kafka-broker")."""
    with open(pom, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{name}-{digest}.classpath")
    if os.path.exists(path):
        with open(path) as f:
            jars = f.read().strip().split(":")
        if jars and all(os.path.exists(j) for j in jars):
            return jars
    if shutil.which("mvn") is None:
        raise RuntimeError(f"Maven (mvn) is needed to fetch {name}: apt-get install maven "
                           "default-jre-headless (tests/support/deps.sh does it)")
    tmp = path + f".{os.getpid()}"
    # Offline first: the local repository may hold everything already.
    for offline in (["-o"], []):
        # Its own session, as every child here: a terminal's Ctrl-C is for the caller.
        r = subprocess.run(["mvn", "-B", "-q", *offline, "-f", pom, "dependency:build-classpath",
                            f"-Dmdep.outputFile={tmp}"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
        if r.returncode == 0:
            break
    else:
        raise RuntimeError(f"Maven could not fetch {name} ({pom}):\n{r.stdout[-3000:]}")
    os.replace(tmp, path)
    with open(path) as f:
        return f.read().strip().split(":")
