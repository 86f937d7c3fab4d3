-- PostgreSQL's 0007_outbox_keys.sql checks the outbox's two keys once per statement instead of once per row.
-- SQLite checks a foreign key inside the statement itself, with one index lookup per row and no trigger
-- call, so its keys stay as they are: nothing to change here (the number keeps both folders alike).
SELECT 1;
