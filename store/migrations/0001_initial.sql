-- Snapshots of the trending list and the models seen in them.
CREATE TABLE snapshots (
    id        INTEGER PRIMARY KEY,
    taken_at  TEXT    NOT NULL,              -- ISO 8601 UTC
    top_n     INTEGER NOT NULL,
    depth     INTEGER NOT NULL,
    source    TEXT    NOT NULL
);
CREATE UNIQUE INDEX snapshots_by_time ON snapshots (taken_at, id);

CREATE TABLE models (
    id             INTEGER PRIMARY KEY,
    hub_id         TEXT    NOT NULL UNIQUE,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    best_rank      INTEGER NOT NULL,
    best_rank_at   TEXT    NOT NULL,
    first_in_top   TEXT,
    last_in_top    TEXT,
    last_led       TEXT,
    top_polls      INTEGER NOT NULL DEFAULT 0,
    pipeline_tag   TEXT,
    library_name   TEXT,
    created_at     TEXT,
    tags           TEXT    NOT NULL DEFAULT '[]'  -- JSON list, latest seen
);

CREATE TABLE entries (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    rank            INTEGER NOT NULL,
    model_id        INTEGER NOT NULL REFERENCES models (id),
    likes           INTEGER,
    downloads       INTEGER,
    trending_score  REAL,
    country         TEXT    NOT NULL,
    country_method  TEXT    NOT NULL,
    country_via     TEXT,
    PRIMARY KEY (snapshot_id, rank)
) WITHOUT ROWID;
CREATE INDEX entries_by_model ON entries (model_id, snapshot_id);

-- Where alerts go: config routes, slash-command subscriptions, the console.
CREATE TABLE destinations (
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
    UNIQUE (platform, channel)
);

-- Share rules a channel added on top of the configured ones.
CREATE TABLE channel_rules (
    id              INTEGER PRIMARY KEY,
    destination_id  INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    country         TEXT    NOT NULL,
    direction       TEXT    NOT NULL CHECK (direction IN ('above', 'below')),
    threshold       INTEGER NOT NULL CHECK (threshold BETWEEN 0 AND 100),
    created_at      TEXT    NOT NULL,
    UNIQUE (destination_id, country, direction, threshold)
);

CREATE TABLE rule_state (
    key         TEXT    PRIMARY KEY,
    streak      INTEGER NOT NULL,
    firing      INTEGER NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    snapshot_id  INTEGER REFERENCES snapshots (id) ON DELETE SET NULL,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,            -- JSON, see bot/events.py
    created_at   TEXT    NOT NULL
);

-- One row per (event, destination); written in the snapshot's transaction.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    destination_id   INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dropped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT    NOT NULL,
    last_error       TEXT,
    created_at       TEXT    NOT NULL,
    delivered_at     TEXT,
    UNIQUE (event_id, destination_id)
);
CREATE INDEX outbox_pending ON outbox (destination_id, id) WHERE status = 'pending';

CREATE TABLE source_health (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    failures           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_failure_at    TEXT,
    last_success_at    TEXT,
    failing_announced  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO source_health (id) VALUES (1);

-- Which process may poll and deliver (two `run`s on one file must not both work).
CREATE TABLE lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    expires_at  TEXT NOT NULL
);
