-- SQLite's 0013 rewrites its partial index of seated users as `WHERE seated`, which is how
-- PostgreSQL's was written from the start: the same index, built again, so both stores keep
-- one list of migrations.
DROP INDEX users_seated;
CREATE INDEX users_seated ON users(seated) WHERE seated;
