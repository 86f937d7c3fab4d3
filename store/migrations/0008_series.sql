-- Every trending list is one series in one family of tables, keyed by list (issue 12's lists, folded in).
--
-- Until 0006 the default list (`models`, the Hub's overall trending models) kept `models`, `entries`
-- and `source_health`, and every other list (Spaces, datasets, filtered model lists) kept
-- `list_items`, `list_entries` and `list_health`: two families doing the same things, and every
-- reader choosing between them. Now:
--
--   items          what a list ranks (a model, a dataset or a Space), once per list and Hub id, with
--                  what the rules and `/model` remember of it: the union of `models` and `list_items`.
--                  "item" is the lists' own word for it (`ListSpec.kind`, `item_url`); keyed by list
--                  as well as id, so a model on two lists keeps two histories (cooldowns, first seen)
--                  as before, and a dataset never shares a row (or an attribution) with a model of
--                  the same id.
--   entries        one row per rank of every snapshot of every list, naming its item by `items.id`;
--                  an item's tags, task and library live on the item (latest seen), as they did for
--                  the default list.
--   source_health  the Hub's health as each list's poller saw it, one row per list.
--
-- Ids are kept where anything refers to them: `models.id` becomes `items.id` (entries point at it),
-- snapshot ids are untouched (events, destinations' baselines, outbox); the other lists' items get
-- the ids after them. `list_items` knew less than `models`: the facts it lacked (first time in the
-- top N, snapshots in the top N, when its best rank was reached, its latest tags/task/library) are
-- read back from its entries, whose top N are all kept (`thin_history`); a best rank below the top N
-- whose snapshot has since been thinned takes the first-seen time.
--
-- SQLite cannot change a table's constraints in place: new tables are made, filled, the old ones
-- dropped and the new ones renamed. Foreign keys are on during migrations: children are dropped
-- before their parents.

CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    list           TEXT    NOT NULL,
    hub_id         TEXT    NOT NULL,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    best_rank      INTEGER NOT NULL,
    best_rank_at   TEXT    NOT NULL,
    first_in_top   TEXT,
    last_in_top    TEXT,
    last_led       TEXT,
    top_polls      INTEGER NOT NULL DEFAULT 0,
    pipeline_tag   TEXT,
    library_name   TEXT,                     -- a Space's SDK
    created_at     TEXT,
    tags           TEXT    NOT NULL DEFAULT '[]',  -- JSON list, latest seen
    UNIQUE (list, hub_id)
);

INSERT INTO items (id, list, hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top,
                   last_led, top_polls, pipeline_tag, library_name, created_at, tags)
SELECT id, 'models', hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top, last_led,
       top_polls, pipeline_tag, library_name, created_at, tags
FROM models ORDER BY id;

INSERT INTO items (list, hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top,
                   last_led, top_polls, pipeline_tag, library_name, created_at, tags)
WITH seen AS (
    SELECT s.list AS list, e.item_id AS item_id, e.rank AS rank, s.top_n AS top_n, s.taken_at AS taken_at,
           s.id AS snapshot_id
    FROM list_entries e JOIN snapshots s ON s.id = e.snapshot_id
), facts AS (
    SELECT list, item_id, MIN(CASE WHEN rank <= top_n THEN taken_at END) AS first_in_top,
           SUM(CASE WHEN rank <= top_n THEN 1 ELSE 0 END) AS top_polls, MAX(snapshot_id) AS latest
    FROM seen GROUP BY list, item_id
), best AS (
    SELECT seen.list AS list, seen.item_id AS item_id, MIN(seen.taken_at) AS at
    FROM seen JOIN list_items i ON i.list = seen.list AND i.item_id = seen.item_id AND i.best_rank = seen.rank
    GROUP BY seen.list, seen.item_id
)
SELECT i.list, i.item_id, i.first_seen, i.last_seen, i.best_rank, COALESCE(b.at, i.first_seen), f.first_in_top,
       i.last_in_top, i.last_led, COALESCE(f.top_polls, 0),
       (SELECT e.pipeline_tag FROM list_entries e WHERE e.snapshot_id = f.latest AND e.item_id = i.item_id LIMIT 1),
       (SELECT e.library_name FROM list_entries e WHERE e.snapshot_id = f.latest AND e.item_id = i.item_id LIMIT 1),
       NULL,
       COALESCE((SELECT e.tags FROM list_entries e WHERE e.snapshot_id = f.latest AND e.item_id = i.item_id
                 LIMIT 1), '[]')
FROM list_items i
LEFT JOIN facts f ON f.list = i.list AND f.item_id = i.item_id
LEFT JOIN best b ON b.list = i.list AND b.item_id = i.item_id
ORDER BY i.list, i.item_id;

CREATE TABLE entries_of_every_list (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    rank            INTEGER NOT NULL,
    item_id         INTEGER NOT NULL REFERENCES items (id),
    likes           INTEGER,
    downloads       INTEGER,
    trending_score  REAL,
    country         TEXT    NOT NULL,
    country_method  TEXT    NOT NULL,
    country_via     TEXT,
    PRIMARY KEY (snapshot_id, rank)
) WITHOUT ROWID;

INSERT INTO entries_of_every_list (snapshot_id, rank, item_id, likes, downloads, trending_score, country,
                                   country_method, country_via)
SELECT snapshot_id, rank, model_id, likes, downloads, trending_score, country, country_method, country_via
FROM entries ORDER BY snapshot_id, rank;

INSERT INTO entries_of_every_list (snapshot_id, rank, item_id, likes, downloads, trending_score, country,
                                   country_method, country_via)
SELECT e.snapshot_id, e.rank, i.id, e.likes, e.downloads, e.trending_score, e.country, e.country_method,
       e.country_via
FROM list_entries e JOIN snapshots s ON s.id = e.snapshot_id JOIN items i ON i.list = s.list AND i.hub_id = e.item_id
ORDER BY e.snapshot_id, e.rank;

CREATE TABLE source_health_of_every_list (
    list               TEXT    PRIMARY KEY,
    failures           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_failure_at    TEXT,
    last_success_at    TEXT,
    failing_announced  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO source_health_of_every_list (list, failures, last_error, last_failure_at, last_success_at,
                                         failing_announced)
SELECT 'models', failures, last_error, last_failure_at, last_success_at, failing_announced FROM source_health
UNION ALL
SELECT list, failures, last_error, last_failure_at, last_success_at, failing_announced FROM list_health
WHERE list != 'models';

DROP TABLE models_search;  -- its trigger goes with `models`
DROP TABLE entries;
DROP TABLE list_entries;
DROP TABLE models;
DROP TABLE list_items;
DROP TABLE source_health;
DROP TABLE list_health;
ALTER TABLE entries_of_every_list RENAME TO entries;
ALTER TABLE source_health_of_every_list RENAME TO source_health;

-- `/model` matches ids case-insensitively, as the Hub does, within one list (0004's index, per list).
CREATE INDEX items_by_hub_id_nocase ON items (list, hub_id COLLATE NOCASE);

-- "Did you mean" hints and autocomplete search ids by substring (0004's trigram index, over items).
CREATE VIRTUAL TABLE items_search USING fts5 (hub_id, content = 'items', content_rowid = 'id',
                                              tokenize = 'trigram', detail = 'none');
INSERT INTO items_search (items_search) VALUES ('rebuild');
CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_search (rowid, hub_id) VALUES (new.id, new.hub_id);
END;
