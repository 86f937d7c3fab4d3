-- Several `run` processes deliver from one outbox (issue 19): a deliverer claims a channel's due rows
-- for `[delivery] claim` (renewing it while it works), so no two send the same alert or one channel's
-- alerts out of order, and the claims of a process that died return to the pool when they lapse.
-- `claimed_by` names the process (host:pid:nonce, as the worker lease does); NULL = nobody's.
-- On SQLite only the lease holder delivers (one writer), but it claims the same way: one code path.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
