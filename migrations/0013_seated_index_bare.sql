-- The seat count (`WHERE seated`, in every login) is written the way both stores read a
-- boolean column. SQLite matches a partial index only to the same expression, so the index
-- says `WHERE seated` too (it said `WHERE seated = 1`, which PostgreSQL cannot compare to a
-- boolean). Same rows, same name.
DROP INDEX users_seated;
CREATE INDEX users_seated ON users(seated) WHERE seated;
