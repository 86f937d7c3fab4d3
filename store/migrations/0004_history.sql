-- History that stays small and fast (issue 11).

-- Each snapshot carries its top N's country counts ({"CN": 4, "US": 3, ...}), written with it, so a
-- share over any window reads one small row per snapshot instead of N entries.
ALTER TABLE snapshots ADD COLUMN top_counts TEXT;
UPDATE snapshots SET top_counts = (
    SELECT COALESCE(json_group_object(country, n), '{}') FROM (
        SELECT e.country AS country, COUNT(*) AS n FROM entries e
        WHERE e.snapshot_id = snapshots.id AND e.rank <= snapshots.top_n
        GROUP BY e.country ORDER BY e.country));

-- How many ranks of a snapshot are still stored: NULL = all `depth` of them. Older snapshots keep only
-- their top N unless they are the first of their UTC hour (see store/snapshots.py, `thin_history`);
-- the history already stored is thinned by the same rule (the two latest snapshots stay whole).
ALTER TABLE snapshots ADD COLUMN kept_depth INTEGER;
UPDATE snapshots SET kept_depth = top_n
WHERE id NOT IN (SELECT id FROM snapshots ORDER BY taken_at DESC, id DESC LIMIT 2)
  AND EXISTS (SELECT 1 FROM snapshots p
              WHERE p.taken_at >= substr(snapshots.taken_at, 1, 13) || ':00:00.000000Z'
                AND (p.taken_at < snapshots.taken_at OR (p.taken_at = snapshots.taken_at AND p.id < snapshots.id)));
DELETE FROM entries WHERE rank > (SELECT s.kept_depth FROM snapshots s WHERE s.id = entries.snapshot_id);

-- No query looks entries up by model (EXPLAIN QUERY PLAN of every store query): a fifth of the file.
DROP INDEX entries_by_model;

-- `/model` matches ids case-insensitively, as the Hub does: an index in that collation answers it.
CREATE INDEX models_by_hub_id_nocase ON models (hub_id COLLATE NOCASE);

-- "Did you mean" hints and autocomplete search ids by substring: a trigram index instead of a scan.
CREATE VIRTUAL TABLE models_search USING fts5 (hub_id, content = 'models', content_rowid = 'id',
                                               tokenize = 'trigram', detail = 'none');
INSERT INTO models_search (models_search) VALUES ('rebuild');
CREATE TRIGGER models_search_insert AFTER INSERT ON models BEGIN
    INSERT INTO models_search (rowid, hub_id) VALUES (new.id, new.hub_id);
END;

-- Routed destinations are cached between polls; any change to who gets what bumps this counter (in
-- every process writing the file, CLI included), and the next poll reloads them.
CREATE TABLE store_versions (
    name     TEXT    PRIMARY KEY,
    version  INTEGER NOT NULL
);
INSERT INTO store_versions (name, version) VALUES ('destinations', 0);
CREATE TRIGGER destinations_changed_insert AFTER INSERT ON destinations BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER destinations_changed_update AFTER UPDATE ON destinations BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER destinations_changed_delete AFTER DELETE ON destinations BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER channel_rules_changed_insert AFTER INSERT ON channel_rules BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER channel_rules_changed_update AFTER UPDATE ON channel_rules BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
CREATE TRIGGER channel_rules_changed_delete AFTER DELETE ON channel_rules BEGIN
    UPDATE store_versions SET version = version + 1 WHERE name = 'destinations';
END;
