-- Snapshots imported from public archives (`python -m bot import`) live beside the bot's own polls.
--
-- `archive` names where an imported snapshot came from (e.g. `park-onezero/daily-hf-trending`);
-- NULL marks a snapshot the bot polled itself. Only polled snapshots are ever the "previous"
-- snapshot that detection compares with, and only they are thinned; every reader of history
-- (shares, the digest, the web page) reads both and can say which period came from where.
--
-- One imported snapshot per list and moment: importing the same archive twice, or two archives
-- that recorded the same instant, adds nothing the second time.

ALTER TABLE snapshots ADD COLUMN archive TEXT;

CREATE UNIQUE INDEX snapshots_archived ON snapshots (list, taken_at) WHERE archive IS NOT NULL;
