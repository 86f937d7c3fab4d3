-- Threads and forums (issue 20): see the SQLite migration of the same number for what they mean.
CREATE TABLE threads (
    destination_id  BIGINT  NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    list            TEXT    NOT NULL,
    item_id         TEXT    NOT NULL,
    anchor          TEXT    NOT NULL,
    outbox_id       BIGINT,
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (destination_id, list, item_id)
);
ALTER TABLE destinations ADD COLUMN threads TEXT NOT NULL DEFAULT 'off'
    CHECK (threads IN ('off', 'on', 'broadcast'));
