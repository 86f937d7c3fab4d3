-- One deployment serves many Discord servers and Slack workspaces (issue 19): each is a tenant, and every
-- setting a command makes belongs to exactly one. `external_id` is the Slack team id (T…) or the Discord
-- guild id (a snowflake, as text). A tenant that removed the bot is 'left' from `left_at`: its channels are
-- paused at once (reason 'left') and its settings are deleted after `[tenants] keep_after_leaving`.
-- `destinations.tenant_id` is NULL for config routes, the console, and a self-hosted bot's channels
-- subscribed before it knew its tenant: those belong to the operator, as before this migration.

CREATE TABLE tenants (
    id           INTEGER PRIMARY KEY,
    platform     TEXT    NOT NULL CHECK (platform IN ('discord', 'slack')),
    external_id  TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'left')),
    joined_at    TEXT    NOT NULL,
    left_at      TEXT,
    UNIQUE (platform, external_id)
);
CREATE INDEX tenants_left ON tenants (left_at) WHERE state = 'left';

ALTER TABLE destinations ADD COLUMN tenant_id INTEGER REFERENCES tenants (id);
CREATE INDEX destinations_by_tenant ON destinations (tenant_id);
