"""What the bot serves over HTTP: `/healthz` and `/metrics` for hosts and scrapers (read-only)."""
