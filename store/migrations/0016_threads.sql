-- Threads and forums (issue 20). `threads` is where the message that announced a model to a subscription
-- lives: a Slack message's `ts`, or the Discord forum post (a thread id) made for it. Follow-ups about
-- that model (it left, became #1, climbed) reply there. One row per subscription, list and model: a
-- model announced again (it left and came back) points at the newer message.
-- `destinations.threads`: 'off' posts follow-ups in the channel as before; 'on' replies in the thread;
-- 'broadcast' replies in the thread and also shows the reply in the channel (Slack's reply_broadcast).
CREATE TABLE threads (
    destination_id  INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    list            TEXT    NOT NULL,
    item_id         TEXT    NOT NULL,
    anchor          TEXT    NOT NULL,
    outbox_id       INTEGER,                  -- the delivery that posted it
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (destination_id, list, item_id)
);
ALTER TABLE destinations ADD COLUMN threads TEXT NOT NULL DEFAULT 'off'
    CHECK (threads IN ('off', 'on', 'broadcast'));
