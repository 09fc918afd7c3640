"""pgoutput as PostgreSQL 14, 15, 16, 17 and 18 write it, read by
walstreamer's reader (streamer/pgoutput.c) without a refusal: each
server (Debian's 15; the others from tests/support/pgversions.py) runs one
workload of every kind of message (relations and a type, inserts, updates
with and without the old key, deletes of whole old rows, unchanged TOASTed
values, truncate, logical messages, transactions streamed while in progress,
committed and aborted whole or in part, and from 15 on, two-phase), and
its slot's messages, asked for with the newest protocol the server speaks,
go through tests/unit/pgoutput_read.c."""

import os
import re
import subprocess

import pytest
from support import pgtemp, pgversions

BUILD = os.environ.get("PGCDC_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
READER = os.path.join(BUILD, "tests", "pgoutput-read")

# The newest protocol each speaks: 2 streams (14), 3 adds two-phase (15), 4 parallel streaming (16).
PROTOCOL = {14: 2, 15: 3, 16: 4, 17: 4, 18: 4}

SETUP = """
    CREATE TYPE mood AS ENUM ('sad', 'ok');
    CREATE TABLE t (id int PRIMARY KEY, v text, m mood, big text);
    ALTER TABLE t ALTER big SET STORAGE EXTERNAL;
    CREATE TABLE full_row (a int, b text);
    ALTER TABLE full_row REPLICA IDENTITY FULL;
    CREATE PUBLICATION p FOR ALL TABLES;"""

WORKLOAD = [
    "INSERT INTO t VALUES (1, 'x', 'ok', repeat('z', 9000)), (2, NULL, NULL, NULL)",
    "UPDATE t SET v = 'y' WHERE id = 1",            # big unchanged: 'u'
    "UPDATE t SET id = 3 WHERE id = 2",             # the key changed: old key 'K'
    "DELETE FROM t WHERE id = 3",
    "INSERT INTO full_row VALUES (1, 'a'); UPDATE full_row SET b = 'b'; DELETE FROM full_row",
    "TRUNCATE full_row",
    "SELECT pg_logical_emit_message(true, 'app', 'in a transaction')",
    "SELECT pg_logical_emit_message(false, 'app', 'outside one')",
    # Past logical_decoding_work_mem (64kB): streamed while in progress.
    "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(10, 3000) g",
    "BEGIN; INSERT INTO t SELECT g, md5(g::text) FROM generate_series(5000, 8000) g; ROLLBACK",
    "BEGIN; INSERT INTO t SELECT g, 'kept' FROM generate_series(9000, 9100) g; SAVEPOINT s; "
    "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(10000, 13000) g; ROLLBACK TO s; COMMIT",
]
TWO_PHASE = ["BEGIN; INSERT INTO t VALUES (20000, 'prepared'); PREPARE TRANSACTION 'g1'",
             "COMMIT PREPARED 'g1'",
             "BEGIN; INSERT INTO t VALUES (20001, 'rolled back'); PREPARE TRANSACTION 'g2'",
             "ROLLBACK PREPARED 'g2'"]


@pytest.mark.parametrize("major", sorted(PROTOCOL))
def test_every_message_of_the_server_is_read(install, major):
    server = install if major == 15 else pgversions.install(major)
    proto = PROTOCOL[major]
    c = pgtemp.Cluster(server, f"pgoutput{major}", settings={
        "logical_decoding_work_mem": "'64kB'", "max_prepared_transactions": "4"}).start()
    try:
        c.psql(SETUP)
        c.psql(f"SELECT pg_create_logical_replication_slot('s', 'pgoutput', false, {str(proto >= 3).lower()})")
        for sql in WORKLOAD + (TWO_PHASE if proto >= 3 else []):
            c.psql(sql)
        opts = f"'proto_version', '{proto}', 'publication_names', 'p', 'messages', 'true', " \
               f"'streaming', '{'parallel' if proto >= 4 else 'on'}'"
        if proto >= 3:
            opts += ", 'two_phase', 'on'"
        out = c.psql(f"SELECT data FROM pg_logical_slot_peek_binary_changes('s', NULL, NULL, {opts})")
        r = subprocess.run([READER] + (["parallel"] if proto >= 4 else []), input=out,
                           capture_output=True, text=True)
        assert r.returncode == 0, f"PostgreSQL {major}: {r.stderr[:2000]}"
        counts = {k: int(n) for k, n in re.findall(r"(\S) (\d+)", r.stdout)}
        assert counts.get("R", 0) >= 2 and counts.get("Y", 0) >= 1, counts        # relations, the enum
        assert counts.get("I", 0) > 3000 and counts.get("U", 0) >= 3 and counts.get("D", 0) >= 2, counts
        assert counts.get("T") == 1 and counts.get("M") == 2, counts
        # Streamed: begun and stopped, committed, aborted (the subtransaction's changes may not
        # have been streamed yet when it rolled back).
        assert counts.get("S", 0) >= 3 and counts.get("S") == counts.get("E"), counts
        assert counts.get("c", 0) >= 2 and counts.get("A", 0) >= 1, counts
        if proto >= 3:
            assert counts.get("b", 0) >= 1 and counts.get("P", 0) >= 1 and counts.get("K") == 1, counts
            assert counts.get("r") == 1, counts
    finally:
        c.destroy()
