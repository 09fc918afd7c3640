"""One round of every kind of change on four tables, for the pgoutput
suites: inserts with timestamps, dates and numerics, updates, a key
change, a delete, a composite key changed, a TOASTed value left unchanged
by an update, and a table under REPLICA IDENTITY FULL."""

TABLES = ["acct", "pairs", "toasty", "full_row"]

SETUP = """
    CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2), at timestamptz, d date);
    CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b));
    CREATE TABLE toasty (id int PRIMARY KEY, big text, n int);
    ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL;
    CREATE TABLE full_row (a int, b text);
    ALTER TABLE full_row REPLICA IDENTITY FULL;
"""


def changes(source, base):
    """Every kind of change, on keys from base up (a round each base, apart by 1000)."""
    source.psql(f"INSERT INTO acct SELECT g, 'o' || g, g * 1.5, '2026-01-01 00:00+00'::timestamptz "
                f"+ g * interval '1 s', '2026-01-01'::date + g FROM generate_series({base}, {base + 199}) g")
    source.psql(f"UPDATE acct SET balance = balance + 1 WHERE id < {base + 20}")
    source.psql(f"UPDATE acct SET id = id + 100000 WHERE id = {base + 5}")
    source.psql(f"DELETE FROM acct WHERE id = {base + 6}")
    source.psql(f"INSERT INTO pairs VALUES ({base}, 'x', 1), ({base}, 'y', 2)")
    source.psql(f"UPDATE pairs SET b = 'z' WHERE a = {base} AND b = 'y'")
    source.psql(f"INSERT INTO toasty VALUES ({base}, repeat('t', 20000), 1)")
    source.psql(f"UPDATE toasty SET n = n + 1 WHERE id = {base}")
    source.psql(f"INSERT INTO full_row VALUES ({base}, 'a'); UPDATE full_row SET b = 'b' WHERE a = {base}")
