-- Runs once, when the target container initializes its data directory.
-- A least-privilege role for walsink: it owns its own schema (positions,
-- truncate marks) and the schema it writes (analytics: the mapped table and
-- the dead letters), nothing else: no superuser, no CREATE on the database.
CREATE ROLE walsink LOGIN PASSWORD 'walsink';
CREATE SCHEMA pgcdc AUTHORIZATION walsink;
CREATE SCHEMA analytics AUTHORIZATION walsink;
