-- Several subscriptions in one channel (issue 20): a destination is now one subscription of a channel,
-- named within it, each with its own kinds, lists, filters, mention and rules (every table keyed on
-- `destinations.id` follows). Every existing channel becomes its one subscription, named 'default'.

ALTER TABLE destinations ADD COLUMN name TEXT NOT NULL DEFAULT 'default';
ALTER TABLE destinations DROP CONSTRAINT destinations_platform_channel_key;
ALTER TABLE destinations ADD CONSTRAINT destinations_platform_channel_name_key UNIQUE (platform, channel, name);
CREATE INDEX destinations_by_channel ON destinations (platform, channel);
