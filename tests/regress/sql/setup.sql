-- Shared by every test of the suite: the extension and a helper that shows a
-- slot's changes as JSON without the fields that differ from run to run
-- (LSNs, xids, times, relation and user type OIDs).
CREATE EXTENSION pgcdc;
SELECT extname, extversion, nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'pgcdc';

CREATE FUNCTION stable_record(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r ? 'truncated' THEN
           jsonb_set(s, '{truncated}', (SELECT jsonb_agg(t - 'relid') FROM jsonb_array_elements(r->'truncated') t))
         WHEN r ? 'columns' THEN
           jsonb_set(s, '{columns}', (SELECT jsonb_agg(c
                                        || CASE WHEN (c->>'type_oid')::oid >= 16384
                                                THEN '{"type_oid": "user"}'::jsonb ELSE '{}' END
                                        || CASE WHEN (c->>'base_type_oid')::oid >= 16384
                                                THEN '{"base_type_oid": "user"}'::jsonb ELSE '{}' END)
                                      FROM jsonb_array_elements(r->'columns') c))
         ELSE s END
  FROM (SELECT r - ARRAY['commit_lsn', 'lsn', 'xid', 'commit_ts', 'end_lsn', 'relid']) AS x(s)
$$;

-- Consume a slot's changes in JSON, one stable record per row.
CREATE FUNCTION changes(slot name, VARIADIC options text[] DEFAULT '{}') RETURNS SETOF jsonb
LANGUAGE sql AS $$
  SELECT stable_record(data::jsonb)
  FROM pg_logical_slot_get_changes(slot, NULL, NULL, VARIADIC ARRAY['format', 'json'] || options)
$$;
