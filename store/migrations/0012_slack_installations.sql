-- "Add to Slack" (issue 19): the workspaces that installed the app through OAuth, the OAuth states of
-- installs in progress, and which workspace each Slack channel belongs to (learnt from its slash commands),
-- so each delivery uses its own workspace's token.
--
-- An installation's tokens (bot, refresh, user, incoming webhook URL) are never stored as they are: `sealed`
-- holds the whole installation as JSON sealed with TRENDWATCH_SECRET_KEY (Fernet, store/sealing.py). The
-- plain columns are what lookups need and what an operator may read (ids, names, when); a missing id is ''
-- (as slack_sdk's own stores keep it) so that the UNIQUE keys hold. One row per installer in a workspace,
-- one bot row per workspace (or per organisation, for an org-wide install).

CREATE TABLE slack_installations (
    id             INTEGER PRIMARY KEY,
    client_id      TEXT    NOT NULL,
    enterprise_id  TEXT    NOT NULL DEFAULT '',
    team_id        TEXT    NOT NULL DEFAULT '',
    user_id        TEXT    NOT NULL DEFAULT '',
    team_name      TEXT,
    installed_at   TEXT    NOT NULL,
    sealed         TEXT    NOT NULL,
    UNIQUE (client_id, enterprise_id, team_id, user_id)
);

CREATE TABLE slack_bots (
    id             INTEGER PRIMARY KEY,
    client_id      TEXT    NOT NULL,
    enterprise_id  TEXT    NOT NULL DEFAULT '',
    team_id        TEXT    NOT NULL DEFAULT '',
    team_name      TEXT,
    installed_at   TEXT    NOT NULL,
    sealed         TEXT    NOT NULL,
    UNIQUE (client_id, enterprise_id, team_id)
);

CREATE TABLE slack_oauth_states (
    state          TEXT    PRIMARY KEY,
    expires_at     TEXT    NOT NULL
);

CREATE TABLE slack_channel_teams (
    channel        TEXT    PRIMARY KEY,
    team_id        TEXT    NOT NULL,
    enterprise_id  TEXT    NOT NULL DEFAULT '',
    seen_at        TEXT    NOT NULL
);
CREATE INDEX slack_channel_teams_team ON slack_channel_teams (team_id);
