"""Trendwatch's core: knows nothing of Discord or Slack.

The flow, one direction: `source/` fetches and parses a list → `attribution/` decides each entry's
country → `rules/` compares it with the previous snapshot and decides who hears what → `poller/` stores
it all in one transaction (`store/`) → `delivery/` drains the outbox through the adapters. `digest/`,
`commands/` and `web/` read the store. `domain/` holds the types they pass; `app.py`, `worker.py`,
`config.py` and `__main__.py` wire it together.
"""
