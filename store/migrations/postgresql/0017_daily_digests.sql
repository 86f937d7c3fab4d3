-- Daily digests already created (issue 20): see the SQLite migration of the same number.
CREATE TABLE daily_digests (
    day         TEXT    PRIMARY KEY,
    event_id    BIGINT REFERENCES events (id) ON DELETE SET NULL,
    trigger     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
