-- Daily digests already created (issue 20): one row per day on the configured time zone's calendar,
-- written in the same transaction as the digest's event and outbox rows, like the weekly `digests`:
-- a restart, a catch-up and a second scheduler firing never post one day twice.
CREATE TABLE daily_digests (
    day         TEXT    PRIMARY KEY,                -- '2026-05-14'
    event_id    INTEGER REFERENCES events (id) ON DELETE SET NULL,
    trigger     TEXT    NOT NULL,                   -- 'schedule' | 'catch-up' | 'command'
    created_at  TEXT    NOT NULL
);
