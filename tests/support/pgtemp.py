"""Throwaway PostgreSQL servers for the tests, benchmark and demo.

A server runs from a private, relocated copy of the installation (its own
share/ and lib/ with pgcdc added), so CREATE EXTENSION pgcdc works without
installing anything into the system.  initdb refuses to run as root: when we
are root, servers run as the unprivileged `postgres` user and every file
they must read lives in a directory that user can read.  Every child runs
in its own session, so that a terminal's Ctrl-C (SIGINT to the foreground
process group) reaches only the program in charge, e.g. the demo, which then
stops the servers in order.
"""

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile

from .ports import free_port

PG_CONFIG = os.environ.get("PG_CONFIG", "pg_config")
DEFAULT_PLUGINS = "pgoutput, test_decoding, pgcdc"


def pg_config(flag):
    return subprocess.check_output([PG_CONFIG, flag], text=True).strip()


def server_user():
    """The account servers run as: ourselves, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root needs a 'postgres' user to run servers "
                           "(install postgresql-15, or run the tests as another user)")
    return "postgres"


def as_server_user(argv):
    user = server_user()
    return ["runuser", "-u", user, "--"] + argv if user else argv


def _world_readable_tmpdir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


class Install:
    """A relocated copy of the server with the pgcdc module and extension in it.

    PostgreSQL finds share/ and lib/ relative to its own executable, so copies
    of postgres, initdb and pg_ctl under <root>/<bindir> use <root>/<sharedir>
    and <root>/<pkglibdir>, which hold links to the real files plus ours.
    """

    def __init__(self, module, ext_files=()):
        self.root = _world_readable_tmpdir("pgcdc-install-")
        atexit.register(shutil.rmtree, self.root, True)
        bindir, sharedir, libdir = (pg_config(f) for f in ("--bindir", "--sharedir", "--pkglibdir"))
        self.bindir = self.root + bindir
        self.sharedir = self.root + sharedir
        self.libdir = self.root + libdir
        os.makedirs(self.bindir)
        os.makedirs(self.sharedir + "/extension")
        os.makedirs(self.libdir)
        for prog in ("postgres", "initdb", "pg_ctl"):
            shutil.copy2(os.path.join(bindir, prog), self.bindir)
        self.system_bindir = bindir
        _link_all(sharedir, self.sharedir, skip={"extension"})
        _link_all(sharedir + "/extension", self.sharedir + "/extension")
        _link_all(libdir, self.libdir, skip={os.path.basename(module)})
        shutil.copy2(module, self.libdir)
        for path in ext_files:
            dest = os.path.join(self.sharedir, "extension", os.path.basename(path))
            if os.path.lexists(dest):
                os.unlink(dest)
            shutil.copy2(path, dest)
        subprocess.check_call(["chmod", "-R", "a+rX", self.root])

    def prog(self, name):
        """A program of this install, or the system's client programs."""
        own = os.path.join(self.bindir, name)
        return own if os.path.exists(own) else os.path.join(self.system_bindir, name)


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def pgcdc_install(build=None):
    """An Install holding the pgcdc module of build (default $PGCDC_BUILD or
    build/) and the extension's files from the source tree."""
    build = build or os.environ.get("PGCDC_BUILD", os.path.join(REPO, "build"))
    decoder = os.path.join(REPO, "decoder")
    return Install(os.path.join(build, "decoder", "pgcdc.so"),
                   ext_files=[os.path.join(decoder, "pgcdc.control"),
                              os.path.join(decoder, "pgcdc--1.0.sql")])


def _link_all(src, dest, skip=()):
    for name in os.listdir(src):
        if name not in skip:
            os.symlink(os.path.join(src, name), os.path.join(dest, name))


# initdb once per process and installation; each cluster copies the result
# (and so shares its system identifier: a test that needs another system, a
# restore or a new primary, asks for an initdb of its own).
_templates = {}


def _initdb(install, key=None):
    """A data directory just out of initdb: the one every cluster copies, or
    with a key, one of that key's own."""
    initdb = install.prog("initdb")
    key = key or initdb
    if key not in _templates:
        d = _world_readable_tmpdir("pgcdc-template-")
        user = server_user()
        if user:
            shutil.chown(d, user)
        data = os.path.join(d, "data")
        subprocess.run(as_server_user([initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                       "--locale=C.UTF-8"]),
                       check=True, stdout=subprocess.DEVNULL, start_new_session=True,
                       env={**os.environ, **getattr(install, "env", {})})
        atexit.register(shutil.rmtree, d, True)
        _templates[key] = data
    return _templates[key]


class Cluster:
    """One initdb'd server on loopback (TCP and a Unix socket in its own dir)."""

    def __init__(self, install, name="pg", settings=None, plugins=DEFAULT_PLUGINS, own_system=False):
        self.install = install
        self.dir = _world_readable_tmpdir(f"pgcdc-{name}-")
        self.datadir = os.path.join(self.dir, "data")
        self.sockdir = self.dir
        self.port = free_port()
        self.host = "127.0.0.1"
        self.user = "postgres"
        self.logfile = os.path.join(self.dir, "server.log")
        user = server_user()
        if user:
            shutil.chown(self.dir, user)
        # A copy of one initdb's output (owner and modes kept): a second faster.
        # own_system: an initdb of its own, another system identifier.
        template = _initdb(install, self.dir if own_system else None)
        subprocess.run(as_server_user(["cp", "-a", template, self.datadir]), check=True)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.sockdir}'",
            "wal_level": "logical",
            "max_replication_slots": "32",
            "max_wal_senders": "32",
            "output_plugin_libraries": f"'{plugins}'",
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
        }
        # Debian's 15.19+ only: the official builds of other versions (pgversions.py) know no such key.
        if getattr(install, "major", 15) != 15:
            del conf["output_plugin_libraries"]
        conf.update(settings or {})
        self.conf = conf
        self._append_conf(conf)
        self.running = False
        atexit.register(self.destroy)

    def _append_conf(self, conf):
        """Lines at the end of postgresql.conf: the last setting of a key wins."""
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")

    @classmethod
    def standby_of(cls, primary, name, settings=None):
        """A physical standby of primary (running), from a base backup taken
        with the low-level API (pg_backup_start, a file copy, pg_backup_stop:
        the official builds of pgversions.py have no pg_basebackup),
        streaming through a physical slot `name` on primary, as
        application_name `name`.  Not started."""
        import psycopg2

        standby = cls(primary.install, name, settings=settings)
        primary.psql(f"SELECT pg_create_physical_replication_slot('{name}', true)")
        conn = psycopg2.connect(primary.dsn())
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute("SELECT pg_backup_start(%s, true)", (name,))
            subprocess.run(as_server_user(["rm", "-rf", standby.datadir]), check=True)
            # Files may come and go during the copy (that is what backup_label recovers from).
            subprocess.run(as_server_user(["cp", "-a", primary.datadir, standby.datadir]),
                           stderr=subprocess.DEVNULL)
            cur.execute("SELECT labelfile, spcmapfile FROM pg_backup_stop(false)")
            label, spcmap = cur.fetchone()
        finally:
            conn.close()
        data = standby.datadir
        if not os.path.exists(os.path.join(data, "global", "pg_control")):
            raise RuntimeError(f"the base backup of {primary.datadir} is incomplete")
        for leftover in ("postmaster.pid", "postmaster.opts"):
            if os.path.exists(os.path.join(data, leftover)):
                os.unlink(os.path.join(data, leftover))
        for slot in os.listdir(os.path.join(data, "pg_replslot")):
            shutil.rmtree(os.path.join(data, "pg_replslot", slot))
        files = {"backup_label": label, "standby.signal": ""}
        if spcmap:
            files["tablespace_map"] = spcmap
        for fname, text in files.items():
            with open(os.path.join(data, fname), "w") as f:
                f.write(text)
            if server_user():
                shutil.chown(os.path.join(data, fname), server_user())
        standby._append_conf({**standby.conf,
                              "primary_conninfo": f"'{primary.dsn()} application_name={name}'",
                              "primary_slot_name": f"'{name}'",
                              "hot_standby": "on",
                              "hot_standby_feedback": "on"})
        return standby

    def promote(self):
        subprocess.run(as_server_user([self.install.prog("pg_ctl"), "-D", self.datadir, "-w", "promote"]),
                       check=True, stdout=subprocess.DEVNULL, start_new_session=True,
                       env={**os.environ, **getattr(self.install, "env", {})})

    def start(self, env=None):
        """Start the server; env adds to its environment (e.g. MALLOC_PERTURB_)."""
        subprocess.run(as_server_user([self.install.prog("pg_ctl"), "-D", self.datadir, "-l",
                                       self.logfile, "-w", "-t", "60", "start"]),
                       check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, **getattr(self.install, "env", {}), **(env or {})},
                       start_new_session=True)
        self.running = True
        return self

    def stop(self, mode="fast"):
        if self.running:
            subprocess.run(as_server_user([self.install.prog("pg_ctl"), "-D", self.datadir,
                                           "-m", mode, "-w", "stop"]),
                           check=False, stdout=subprocess.DEVNULL, start_new_session=True)
            self.running = False

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, dbname="postgres"):
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def psql(self, sql, dbname="postgres"):
        """Run SQL with psql, return its unaligned, tuples-only output."""
        return subprocess.run([self.install.prog("psql"), "-X", "-q", "-A", "-t",
                               "-v", "ON_ERROR_STOP=1", "-d", self.dsn(dbname), "-c", sql],
                              check=True, capture_output=True, text=True,
                              start_new_session=True).stdout.strip()
