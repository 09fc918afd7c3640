-- Runs once, when the source container initializes its data directory.
-- A least-privilege role for walstreamer: REPLICATION for the slot, SELECT
-- for the snapshot, its own bookkeeping in pgcdc, nothing else.
CREATE ROLE pgcdc LOGIN REPLICATION PASSWORD 'pgcdc';
CREATE EXTENSION pgcdc;
CREATE TABLE public.orders (
    id bigserial PRIMARY KEY,
    customer text NOT NULL,
    amount numeric(12,2) NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
GRANT USAGE ON SCHEMA public, pgcdc TO pgcdc;     -- pgcdc: read_record for the snapshot
GRANT SELECT, INSERT, UPDATE ON pgcdc.streamer_slot TO pgcdc;   -- walstreamer's record of its slot
GRANT SELECT, INSERT, UPDATE, DELETE ON pgcdc.snapshot_progress, pgcdc.snapshot_part TO pgcdc;   -- the snapshot's progress
GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgcdc;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO pgcdc;
