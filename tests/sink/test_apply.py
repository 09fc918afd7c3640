"""Every operation, the snapshot and truncates arrive in the target; a
replay from offset 0 changes nothing and is counted as skipped."""

import urllib.request

from conftest import confirmed, dead_letters, lsn, wait_equal, wait_for


def test_mixed_workload_and_snapshot(source, target, broker, streamer, sink):
    source.psql("""
        CREATE TABLE emp (id int PRIMARY KEY, name text NOT NULL, salary numeric(12,2),
                          born date, seen timestamptz, tags text[], doc jsonb, pic bytea,
                          u uuid, ok boolean, f float8);
        CREATE TABLE big (id int PRIMARY KEY, payload text, n int);
        ALTER TABLE big ALTER payload SET STORAGE EXTERNAL;
        -- A two-column key, text and negative or large integers.
        CREATE TABLE pair (region text, n bigint, v int, PRIMARY KEY (region, n));
        INSERT INTO pair SELECT r, n, 0 FROM unnest(ARRAY['north', 'south', '']) r,
            unnest(ARRAY[-9223372036854775808, -5, -1, 0, 1, 5, 1099511627776]) n;
        INSERT INTO emp SELECT g, 'n' || g, g * 1.5, date '2000-01-01' + g,
            timestamptz '2020-01-01 00:00:00.123456+00' + g * interval '1 hour', ARRAY['a', 'b\\tc'],
            jsonb_build_object('k', g), '\\x00ff'::bytea, gen_random_uuid(), g % 2 = 0, g / 3.0
            FROM generate_series(1, 50) g;
        INSERT INTO big SELECT g, repeat(md5(g::text), 300), 0 FROM generate_series(1, 5) g;""")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_equal(source, target, ["emp", "big", "pair"])
    # A row the source is about to insert, already in the target: the insert
    # of its batch conflicts and becomes an upsert, the rows with it applied too.
    target.psql("INSERT INTO emp (id, name) VALUES (305, 'already here')")
    source.psql("""
        INSERT INTO emp SELECT g, 'new ' || g FROM generate_series(300, 310) g;
        INSERT INTO emp VALUES (100, 'tab\\there', -1, '0044-03-15 BC', '-infinity', '{}', 'null',
            '', NULL, NULL, 'NaN');
        UPDATE emp SET salary = salary + 1 WHERE id <= 10;
        UPDATE emp SET id = id + 1000 WHERE id BETWEEN 11 AND 15;
        DELETE FROM emp WHERE id BETWEEN 20 AND 25;
        UPDATE big SET n = n + 1;
        BEGIN; INSERT INTO emp VALUES (200, 'x'); UPDATE emp SET name = 'y' WHERE id = 200;
               DELETE FROM emp WHERE id = 200; INSERT INTO emp VALUES (200, 'z'); COMMIT;
        BEGIN; UPDATE pair SET v = v + 1 WHERE n < 0; UPDATE pair SET v = v + 10 WHERE n <= 0;
               UPDATE pair SET region = 'east' WHERE region = 'north' AND n > 0;
               DELETE FROM pair WHERE region = '' AND n = -5; INSERT INTO pair VALUES ('', -5, 7);
               UPDATE pair SET n = n + 100 WHERE region = 'south' AND n IN (1, 5); COMMIT;""")
    wait_equal(source, target, ["emp", "big", "pair"])
    source.psql("TRUNCATE big; INSERT INTO big VALUES (7, 'after', 1)")
    wait_equal(source, target, ["emp", "big", "pair"])
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_unchanged_toast_after_a_change_in_the_same_batch(source, target, broker, streamer, sink):
    """Changes that set a TOASTed column, then an update leaving it unchanged,
    applied in one batch: the value set survives (only the key's last change
    is written, and it says "unchanged")."""
    source.psql("""
        CREATE TABLE doc (id int PRIMARY KEY, body text, n int);
        ALTER TABLE doc ALTER body SET STORAGE EXTERNAL;
        INSERT INTO doc SELECT g, repeat(md5(g::text), 100), 0 FROM generate_series(1, 3) g;""")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_equal(source, target, ["doc"])
    assert w.stop() == 0
    # While walsink is down, so that they arrive in one batch: each row's
    # body set, then an update that leaves it alone (as unchanged TOAST).
    source.psql("""
        UPDATE doc SET body = repeat(md5('new' || id), 100) WHERE id = 1;
        INSERT INTO doc VALUES (4, repeat(md5('four'), 100), 0);
        UPDATE doc SET body = repeat(md5('x' || id), 100) WHERE id = 2;
        UPDATE doc SET body = repeat(md5('y' || id), 100) WHERE id = 2;
        UPDATE doc SET n = n + 1;
        UPDATE doc SET n = n + 1 WHERE id = 4;""")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the changes in Kafka")
    w = sink(batch_max_ms="3000").start()
    wait_equal(source, target, ["doc"])
    assert w.stop() == 0 and s.stop() == 0


def test_replay_from_zero_changes_nothing(source, target, broker, streamer, sink, tmp_path):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    source.psql("CREATE TABLE kv (k int PRIMARY KEY, v int)")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    for i in range(20):
        source.psql(f"INSERT INTO kv VALUES ({i}, 0) ON CONFLICT (k) DO UPDATE SET v = kv.v + 1")
        source.psql(f"UPDATE kv SET v = v + 10 WHERE k = {i % 5}")
    wait_equal(source, target, ["kv"])
    assert w.stop() == 0
    before = target.psql("SELECT * FROM kv ORDER BY k")
    # Rewind only the stored offsets: the stored source positions stay, so
    # every event read again is at or behind them and must be skipped.  How
    # many there are comes from the topics: changes made before the streamer's
    # snapshot was taken arrive folded into one snapshot row each.
    messages = int(target.psql('SELECT sum("offset" + 1) FROM pgcdc.sink_position'))
    target.psql("UPDATE pgcdc.sink_position SET \"offset\" = -1")
    w2 = sink(metrics_listen=f"127.0.0.1:{port}").start()

    def metric(name):
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        return 0
    assert messages >= 20
    wait_for(lambda: metric("walsink_skipped_total") >= messages,
             what=f"all {messages} replayed changes counted as skipped")
    assert metric("walsink_skipped_total") == messages
    assert metric("walsink_applied_total") == 0
    assert target.psql("SELECT * FROM kv ORDER BY k") == before
    assert w2.stop() == 0 and s.stop() == 0
