"""source.plugin = pgoutput under least privilege, as on a managed service:
a role with LOGIN and REPLICATION, SELECT on the tables, no superuser, no
extension.  An administrator makes the publication (the role owns no table)
and schema pgcdc for the role; walstreamer creates its tables there, reads
the snapshot and streams, and the target equals the source.  What the role
may not do is a clear error that says what to run."""

import subprocess

import pytest
from support import pgtemp
from support.checks import snapshot_done, wait_equal, wait_for

TABLES = ["acct", "notes"]

SETUP = """
    CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2));
    CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
"""


@pytest.fixture
def source(install, request):
    c = pgtemp.Cluster(install, request.node.name[:20]).start()
    c.psql(SETUP + """
        CREATE ROLE cdc LOGIN REPLICATION;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO cdc;
        REVOKE CREATE ON DATABASE postgres FROM PUBLIC;
        INSERT INTO acct SELECT g, 'o' || g, g FROM generate_series(1, 3000) g;
        INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 100) g;""")
    yield c
    c.destroy()


def as_cdc(source):
    return source.dsn().replace("user=postgres", "user=cdc")


def test_least_privilege(source, target, broker, streamer, sink):
    target.psql(SETUP.replace("GENERATED ALWAYS AS IDENTITY", ""))
    assert source.psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'cdc'") == "f"

    # Without schema pgcdc, and no right to create it: said, with what an administrator runs.
    s = streamer(source=as_cdc(source), source_plugin="pgoutput")
    s.start()
    assert s.wait(60) != 0
    assert "CREATE SCHEMA pgcdc AUTHORIZATION" in s.text()

    # Schema given; the publication lacks a table and the role owns none: said, with the statement to run.
    source.psql("CREATE SCHEMA pgcdc AUTHORIZATION cdc; CREATE PUBLICATION pgcdc FOR TABLE acct")
    s.start()
    assert s.wait(60) != 0
    assert 'cannot alter publication "pgcdc"' in s.text() and "ADD TABLE public.notes" in s.text()

    source.psql("ALTER PUBLICATION pgcdc ADD TABLE notes")
    s = streamer(source=as_cdc(source), source_plugin="pgoutput", publication_autocreate="disabled").start()
    k = sink().start()
    wait_for(lambda: snapshot_done(source), timeout=120, what="the snapshot")
    source.psql("INSERT INTO notes (body) VALUES ('after'); UPDATE acct SET balance = 0 WHERE id < 10; "
                "DELETE FROM acct WHERE id = 11")
    wait_equal(source, target, TABLES)
    assert source.psql("SELECT tableowner FROM pg_tables WHERE schemaname = 'pgcdc' ORDER BY 1") == "cdc\ncdc\ncdc"
    assert s.stop() == 0 and k.stop() == 0


def test_a_missing_publication_is_an_error_at_check_and_start(source, broker, streamer):
    s = streamer(source=as_cdc(source), source_plugin="pgoutput", publication_autocreate="disabled",
                 publication_name="nope")
    source.psql("CREATE SCHEMA pgcdc AUTHORIZATION cdc")
    r = subprocess.run(s.argv() + ["--check"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and 'publication "nope" does not exist' in r.stdout, r.stdout
    s.start()
    assert s.wait(60) != 0 and 'publication "nope" does not exist' in s.text()
