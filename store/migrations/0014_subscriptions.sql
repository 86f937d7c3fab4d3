-- Several subscriptions in one channel (issue 20): a destination is now one subscription of a channel,
-- named within it, each with its own kinds, lists, filters, mention and rules (every table keyed on
-- `destinations.id` follows: outbox rows, channel filters, rules and watches are per subscription).
-- Every existing channel becomes its one subscription, named 'default'.
--
-- SQLite cannot change a UNIQUE constraint in place: the table is rebuilt with the same ids. Dropping a
-- parent with foreign keys on would cascade into outbox, rules, filters and watches, so this migration
-- runs with foreign keys off (SQLite's documented table-rebuild procedure) and the runner checks
-- `PRAGMA foreign_key_check` before it commits.
-- sqlite: foreign keys off

CREATE TABLE destinations_new (
    id             INTEGER PRIMARY KEY,
    platform       TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    kinds          TEXT    NOT NULL,          -- JSON list of alert kinds
    origin         TEXT    NOT NULL,          -- 'config' | 'command' | 'console'
    active         INTEGER NOT NULL DEFAULT 1,
    subscribed_at  TEXT    NOT NULL,
    since_snapshot INTEGER,                   -- latest snapshot id when (re)subscribed: the baseline
    paused_at      TEXT,
    paused_reason  TEXT,
    muted_until    TEXT,
    mention        TEXT,
    tenant_id      INTEGER REFERENCES tenants (id),
    name           TEXT    NOT NULL DEFAULT 'default',   -- the subscription's name within its channel
    UNIQUE (platform, channel, name)
);
INSERT INTO destinations_new (id, platform, channel, kinds, origin, active, subscribed_at, since_snapshot,
                              paused_at, paused_reason, muted_until, mention, tenant_id, name)
    SELECT id, platform, channel, kinds, origin, active, subscribed_at, since_snapshot,
           paused_at, paused_reason, muted_until, mention, tenant_id, 'default' FROM destinations;
DROP TABLE destinations;
ALTER TABLE destinations_new RENAME TO destinations;
CREATE INDEX destinations_by_tenant ON destinations (tenant_id);
CREATE INDEX destinations_by_channel ON destinations (platform, channel);
CREATE TRIGGER destinations_changed_insert AFTER INSERT ON destinations BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER destinations_changed_update AFTER UPDATE ON destinations BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER destinations_changed_delete AFTER DELETE ON destinations BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
