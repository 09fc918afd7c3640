#!/usr/bin/env python3
"""Run the decoder's pg_regress suite against a temporary server.

usage: run.py BUILD_DIR [TEST ...]

Starts a throwaway cluster from a private installation holding the freshly
built pgcdc module and extension, then runs pg_regress against it with the
schedule in tests/regress/schedule (or the named tests).
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from support import pgtemp  # noqa: E402


def main():
    build = os.path.abspath(sys.argv[1])
    tests = sys.argv[2:]
    install = pgtemp.pgcdc_install(build)
    cluster = pgtemp.Cluster(install, "regress",
                             settings={"max_replication_slots": "10",
                                       "logical_decoding_work_mem": "64MB"})
    # glibc fills freed memory with a pattern: use after free shows up.
    cluster.start(env={"MALLOC_PERTURB_": "165"})
    outdir = os.path.join(build, "regress")
    os.makedirs(outdir, exist_ok=True)
    pg_regress = os.path.join(pgtemp.pg_config("--pkglibdir"),
                              "pgxs/src/test/regress/pg_regress")
    argv = [pg_regress, f"--inputdir={HERE}", f"--outputdir={outdir}",
            f"--bindir={install.system_bindir}", f"--host={cluster.sockdir}",
            f"--port={cluster.port}", f"--user={cluster.user}", "--dbname=regression"]
    argv += tests if tests else [f"--schedule={os.path.join(HERE, 'schedule')}"]
    rc = subprocess.call(argv)
    if rc != 0:
        diffs = os.path.join(outdir, "regression.diffs")
        if os.path.exists(diffs):
            with open(diffs) as f:
                sys.stdout.write(f.read()[:20000])
    cluster.destroy()
    return rc


if __name__ == "__main__":
    sys.exit(main())
