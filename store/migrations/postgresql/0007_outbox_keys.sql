-- An alert routed to 10,000 channels writes 10,000 outbox rows in one statement. PostgreSQL checks a
-- FOREIGN KEY with one query per row written, by trigger (20,000 queries for the two keys: 75 of the
-- 133 ms a poll took at 10,000 channels, against a goal of 100 ms). The outbox keeps both keys, with
-- the same meaning, checked once per statement over all the rows it wrote:
--   * every outbox row names an existing event and destination (insert, or an update of either column);
--   * deleting an event or a destination deletes its outbox rows (ON DELETE CASCADE);
--   * an event or destination id that outbox rows name cannot be changed (NO ACTION).
-- A foreign key also locks each parent row against a concurrent delete until commit. Here every write
-- takes the writer lock every trendwatch transaction already holds (store/db.py, WRITER_LOCK_KEY
-- 0x7472656E64 = 500152823396), and a delete of a parent takes it before touching any row: a delete
-- waits for the writer, the writer for the delete, and neither sees the other half done.

ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_destination_id_fkey;

CREATE FUNCTION outbox_keys_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(500152823396);
    SELECT w.event_id INTO missing FROM outbox_written w
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = w.event_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "outbox" violates foreign key "outbox_event_id_fkey"',
            DETAIL = format('Key (event_id)=(%s) is not present in table "events".', missing);
    END IF;
    SELECT w.destination_id INTO missing FROM outbox_written w
        WHERE NOT EXISTS (SELECT 1 FROM destinations d WHERE d.id = w.destination_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "outbox" violates foreign key "outbox_destination_id_fkey"',
            DETAIL = format('Key (destination_id)=(%s) is not present in table "destinations".', missing);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_keys_inserted AFTER INSERT ON outbox REFERENCING NEW TABLE AS outbox_written
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_keys_written();
-- An update that changes a key (none in trendwatch does) is checked by row, and only then: the
-- delivery's status updates do not call it.
CREATE FUNCTION outbox_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(500152823396);
    IF NOT EXISTS (SELECT 1 FROM events WHERE id = NEW.event_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "outbox" violates foreign key "outbox_event_id_fkey"',
            DETAIL = format('Key (event_id)=(%s) is not present in table "events".', NEW.event_id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM destinations WHERE id = NEW.destination_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "outbox" violates foreign key "outbox_destination_id_fkey"',
            DETAIL = format('Key (destination_id)=(%s) is not present in table "destinations".', NEW.destination_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_keys_updated AFTER UPDATE OF event_id, destination_id ON outbox FOR EACH ROW
    WHEN (OLD.event_id IS DISTINCT FROM NEW.event_id OR OLD.destination_id IS DISTINCT FROM NEW.destination_id)
    EXECUTE FUNCTION outbox_keys_changed();

CREATE FUNCTION outbox_parents_writer_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(500152823396);
    RETURN NULL;
END;
$$;

CREATE FUNCTION outbox_parents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'events' THEN
        DELETE FROM outbox WHERE event_id IN (SELECT id FROM outbox_parents_gone);
    ELSE
        DELETE FROM outbox WHERE destination_id IN (SELECT id FROM outbox_parents_gone);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION outbox_parent_id_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_TABLE_NAME = 'events' AND EXISTS (SELECT 1 FROM outbox WHERE event_id = OLD.id))
        OR (TG_TABLE_NAME = 'destinations' AND EXISTS (SELECT 1 FROM outbox WHERE destination_id = OLD.id)) THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('update on table "%s" violates a foreign key of table "outbox"', TG_TABLE_NAME),
            DETAIL = format('Key (id)=(%s) is still referenced from table "outbox".', OLD.id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_outbox_writer_lock BEFORE DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_parents_writer_lock();
CREATE TRIGGER events_outbox_cascade AFTER DELETE ON events REFERENCING OLD TABLE AS outbox_parents_gone
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_parents_deleted();
CREATE TRIGGER events_outbox_id_kept AFTER UPDATE OF id ON events
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION outbox_parent_id_kept();

CREATE TRIGGER destinations_outbox_writer_lock BEFORE DELETE ON destinations
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_parents_writer_lock();
CREATE TRIGGER destinations_outbox_cascade AFTER DELETE ON destinations
    REFERENCING OLD TABLE AS outbox_parents_gone
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_parents_deleted();
CREATE TRIGGER destinations_outbox_id_kept AFTER UPDATE OF id ON destinations
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION outbox_parent_id_kept();
