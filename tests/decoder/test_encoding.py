"""Databases that are not UTF-8: records carry UTF-8, JSON is server-encoded text."""

import json
import subprocess

import psycopg2
import pytest

CASES = [("LATIN1", "latin1", "tü", "ü é"), ("EUC_JP", "euc_jp", "表", "あ日本")]


def connect(cluster, dbname):
    conn = psycopg2.connect(cluster.dsn(dbname), client_encoding="UTF8")
    conn.autocommit = True
    return conn


@pytest.mark.parametrize("encoding,codec,table,value", CASES)
def test_non_utf8_database(cluster, encoding, codec, table, value):
    db = f"db_{encoding.lower()}"
    slot = f"enc_{encoding.lower()}"
    cluster.psql(f"CREATE DATABASE {db} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    conn = connect(cluster, db)
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION pgcdc")
    cur.execute(f"SELECT 'x' FROM pg_create_logical_replication_slot('{slot}', 'pgcdc')")
    cur.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, "{value}" text)')
    cur.execute(f'INSERT INTO "{table}" VALUES (1, %s)', (value,))
    cur.execute("SELECT pg_current_wal_lsn()")
    end = cur.fetchone()[0]

    # Protobuf strings are UTF-8 whatever the database's encoding.
    cur.execute(f"SELECT data FROM pg_logical_slot_peek_binary_changes('{slot}', NULL, NULL)")
    raw = b"".join(bytes(r[0]) for r in cur.fetchall())
    assert value.encode() in raw and table.encode() in raw
    assert value.encode(codec) not in raw

    # JSON through the SQL interface and to_json: the same characters.
    cur.execute(f"SELECT data FROM pg_logical_slot_peek_changes('{slot}', NULL, NULL, 'format', 'json')")
    from_json = [json.loads(r[0]) for r in cur.fetchall()]
    cur.execute(f"SELECT pgcdc.to_json(data)::text FROM pg_logical_slot_peek_binary_changes('{slot}', NULL, NULL)")
    from_binary = [json.loads(r[0]) for r in cur.fetchall()]
    assert from_json == from_binary
    relation = next(r for r in from_json if r["op"] == "relation")
    insert = next(r for r in from_json if r["op"] == "insert")
    assert relation["table"] == table and relation["columns"][1]["name"] == value
    assert insert["after"] == [{"int": 1}, {"text": value}]

    # The walsender sends textual output as the server encodes it.
    out = subprocess.run([cluster.install.prog("pg_recvlogical"), "-d", cluster.dsn(db),
                          "--slot", slot, "--start", "--endpos", end, "--no-loop",
                          "-o", "format=json", "-f", "-"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    streamed = [json.loads(line) for line in out.stdout.decode(codec).splitlines() if line]
    assert streamed == from_json
    conn.close()
