"""The fault suites' workload and what it must leave behind: a writer
thread of ledger inserts and kv increments, a sampler of the slot's
confirmed position against Kafka's watermarks, and the checks on Kafka
(verify: nothing missing, per-key order, nothing confirmed early) and on
the target (settle: equal tables, nothing applied twice)."""

import time

from .checks import confirmed, lsn, wait_equal, wait_for
from .kafkaread import read_all, watermarks


class Workload:
    """A writer thread: each transaction inserts ledger row i and increments
    kv row i % KEYS, then notes the WAL position after its commit (an upper
    bound of the commit's end).  Transactions whose commit outcome is unknown
    (connection lost during COMMIT) are noted as uncertain."""

    KEYS = 20

    def __init__(self, source, pause=0.002):
        import psycopg2
        self.psycopg2 = psycopg2
        self.source = source
        self.pause = pause
        self.committed = []         # (i, lsn after commit)
        self.uncertain = set()
        self.stop_flag = False
        source.psql(f"""
            CREATE TABLE IF NOT EXISTS ledger (id bigint PRIMARY KEY, k int, note text);
            CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v bigint NOT NULL);
            INSERT INTO kv SELECT g, 0 FROM generate_series(0, {self.KEYS - 1}) g
                ON CONFLICT DO NOTHING;""")
        import threading
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def connect(self):
        while not self.stop_flag:
            try:
                conn = self.psycopg2.connect(self.source.dsn())
                conn.autocommit = False
                return conn
            except self.psycopg2.OperationalError:
                time.sleep(0.2)
        return None

    def run(self):
        conn = self.connect()
        i = 0
        while not self.stop_flag and conn is not None:
            i += 1
            try:
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO ledger VALUES (%s, %s, repeat('x', %s))",
                                (i, i % self.KEYS, i % 30))
                    cur.execute("UPDATE kv SET v = v + 1 WHERE k = %s", (i % self.KEYS,))
                    if i % 10 == 0 and i > 50:
                        cur.execute("DELETE FROM ledger WHERE id = %s", (i - 50,))
                try:
                    conn.commit()
                except self.psycopg2.Error:
                    self.uncertain.add(i)
                    raise
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_current_wal_lsn()")
                    self.committed.append((i, lsn(cur.fetchone()[0])))
            except self.psycopg2.Error:
                try:
                    conn.close()
                except self.psycopg2.Error:
                    pass
                conn = self.connect()
            time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def finish(self):
        self.stop_flag = True
        self.thread.join(60)
        return lsn(self.source.psql("SELECT pg_current_wal_lsn()"))


class Sampler:
    """Samples the slot's confirmed position, then Kafka's high watermarks:
    anything confirmed must already be below those watermarks."""

    def __init__(self, source, bootstrap, every=0.5):
        import threading
        self.source, self.bootstrap, self.every = source, bootstrap, every
        self.samples = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self):
        c = confirmed(self.source)
        if c is not None:
            self.samples.append((c, watermarks(self.bootstrap)))

    def run(self):
        while not self.stop_flag:
            try:
                self.sample()
            except Exception:       # a source restart: sample again later
                pass
            time.sleep(self.every)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop_flag = True
        self.thread.join(60)


def verify(source, bootstrap, work, sampler=None):
    """No committed change missing, per-key order, nothing confirmed early."""
    got = read_all(bootstrap)
    where = {}                      # ledger id -> (topic, partition, first offset)
    for (topic, part), msgs in got.items():
        if topic == "pgcdc.public.kv":
            per_key = {}
            for m in msgs:
                r = m.record()
                if r["op"] in ("update", "read", "insert"):
                    per_key.setdefault(r["row"]["k"], []).append(r["row"]["v"])
            for k, seq in per_key.items():
                firsts = []
                for v in seq:
                    if v not in firsts:
                        firsts.append(v)
                assert firsts == sorted(firsts), f"kv key {k} out of order: {seq[:50]}"
                # A resend repeats a suffix already seen, never goes further back.
                for a, b in zip(seq, seq[1:]):
                    assert b > a or b in seq[:seq.index(a) + 1], f"key {k}: {a} then {b}"
        if topic == "pgcdc.public.ledger":
            for m in msgs:
                r = m.record()
                if r["op"] in ("insert", "read"):
                    where.setdefault(r["row"]["id"], (topic, part, m.offset))
    missing = [i for i, _ in work.committed if i not in where]
    assert not missing, f"{len(missing)} committed transactions missing from Kafka, e.g. {missing[:10]}"
    final = dict(tuple(map(int, line.split("|"))) for line in
                 source.psql("SELECT k, v FROM kv").splitlines())
    kv_last = {}
    for (topic, part), msgs in got.items():
        if topic == "pgcdc.public.kv":
            for m in msgs:
                r = m.record()
                if r.get("row"):
                    kv_last[r["row"]["k"]] = max(kv_last.get(r["row"]["k"], 0), r["row"]["v"])
    assert kv_last == final, "the last value per key in Kafka differs from the source"
    early = 0
    for c, marks in (sampler.samples if sampler else []):
        for i, after in work.committed:
            if after <= c:
                topic, part, off = where[i]
                if off >= marks.get((topic, part), 0):
                    early += 1
    assert early == 0, f"{early} transactions were confirmed to the slot before Kafka held them"
    return got


# A trigger in the target records every update of kv (the workload's
# counters, which only grow): a change applied twice, or an older state
# after a newer one, shows as new v <= old v.  The writer starts once the
# snapshot is done (checks.snapshot_done): a chunk read after an increment
# restates that state (new v = old v), which the history could not tell from
# a change applied twice.
HISTORY = """
    CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL);
    CREATE TABLE kv_history (k int, old_v bigint, new_v bigint);
    CREATE FUNCTION kv_note() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO kv_history VALUES (NEW.k, OLD.v, NEW.v); RETURN NEW; END $$;
    CREATE TRIGGER kv_note AFTER UPDATE ON kv FOR EACH ROW EXECUTE FUNCTION kv_note();"""


def no_double_apply(target):
    """Every recorded update moved v forward (the snapshot's v = 0 rows may be applied twice)."""
    bad = target.psql("SELECT k, old_v, new_v FROM kv_history "
                      "WHERE new_v <= old_v AND NOT (old_v = 0 AND new_v = 0) LIMIT 10")
    assert bad == "", f"changes applied twice or out of order (k|old|new): {bad}"
    return int(target.psql("SELECT count(*) FROM kv_history"))


def settle(work, source, target, committed):
    """Ends the workload; once the streamer and walsink have caught up, the
    tables are equal and nothing was applied twice (more than committed
    transactions, more than 100 updates seen)."""
    end = work.finish()
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=120, what="the streamer to catch up")
    wait_equal(source, target, ["ledger", "kv"], timeout=180)
    updates = no_double_apply(target)
    assert len(work.committed) > committed and updates > 100, (len(work.committed), updates)
