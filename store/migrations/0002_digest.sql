-- Weekly digests already created: one row per ISO week, written in the same transaction as the
-- digest's event and outbox rows, so a restart or a second scheduler firing never posts it twice.
CREATE TABLE digests (
    week        TEXT    PRIMARY KEY,                -- '2025-W30', on the configured time zone's calendar
    event_id    INTEGER REFERENCES events (id) ON DELETE SET NULL,
    trigger     TEXT    NOT NULL,                   -- 'schedule' | 'catch-up' | 'command'
    created_at  TEXT    NOT NULL
);
