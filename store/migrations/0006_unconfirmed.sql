-- Posts whose outcome is unknown (sent, then no answer: a timeout, a dropped connection, a crash),
-- counted per outbox row, so a platform without a send nonce (Slack) checks before posting again
-- and never posts a third time (bot/delivery.py, adapters/slack_out.py).
ALTER TABLE outbox ADD COLUMN unconfirmed INTEGER NOT NULL DEFAULT 0;
