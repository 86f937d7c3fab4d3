-- SQLite's 0004_history.sql, for PostgreSQL: already in 0001_initial.sql, which creates the schema as it stood at
-- migration 6 (the PostgreSQL store began there). This file keeps the numbers of both folders alike,
-- so that schema version N means the same schema on both; from 0007 on, each number holds its change.
SELECT 1;
