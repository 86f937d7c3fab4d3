-- Several `run` processes deliver from one outbox (issue 19): a deliverer locks the channels it takes
-- (each one's oldest pending row, `FOR NO KEY UPDATE SKIP LOCKED`: another deliverer skips it) and
-- claims their due rows for `[delivery] claim`, renewing it while it works; so no two send the same
-- alert or one channel's alerts out of order, and a dead process's claims return to the pool when
-- they lapse. `claimed_by` names the process (host:pid:nonce, as the worker lease does); NULL = nobody's.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
