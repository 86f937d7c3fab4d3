-- Silences like Alertmanager's (issue 20): `/alerts silence author:deepseek-ai 7d` in a channel holds back
-- every alert of that channel's subscriptions that the matcher catches until `ends_at` (or until
-- `/alerts unsilence ID` sets `ended_at`). A silenced alert is never sent and never lost: it is stored as
-- an event as usual and recorded in `silenced_alerts` instead of the outbox, naming the silence.
CREATE TABLE silences (
    id          INTEGER PRIMARY KEY,
    platform    TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    tenant_id   INTEGER REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: the operator's (config, CLI)
    matcher     TEXT    NOT NULL CHECK (matcher IN ('author', 'model', 'kind', 'country')),
    value       TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,              -- who set it, as the platform names them
    created_at  TEXT    NOT NULL,
    ends_at     TEXT    NOT NULL,
    ended_at    TEXT,                          -- ended early by `/alerts unsilence`
    ended_by    TEXT
);
CREATE INDEX silences_by_channel ON silences (platform, channel, ends_at);

CREATE TABLE silenced_alerts (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    destination_id  INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    silence_id      INTEGER NOT NULL REFERENCES silences (id) ON DELETE CASCADE,
    created_at      TEXT    NOT NULL,
    UNIQUE (event_id, destination_id)
);
CREATE INDEX silenced_alerts_by_destination ON silenced_alerts (destination_id, id);
