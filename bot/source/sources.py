"""Which source each configured list is read from: the Hub for every list, or a replay file for the default one."""

from __future__ import annotations

from bot.config import Secrets, Settings, configured_lists
from bot.source.hub import HubSource, Source
from bot.source.replay import ReplaySource


def build_sources(settings: Settings, secrets: Secrets) -> dict[str, Source]:
    """One source per configured list, the default list first. With `[hub] replay` the default list replays the
    file and the other lists are not polled (a replay is a recording of the default list only)."""
    if settings.hub.replay is not None:
        return {configured_lists(settings)[0].name: ReplaySource(settings.hub.replay)}
    token = secrets.hf_token.get_secret_value() if secrets.hf_token else None
    hub = settings.hub
    return {
        spec.name: HubSource(hub.endpoint, spec.depth, token=token, timeout=hub.request_timeout,
                             budget=hub.retry_budget, lineage_lookups=hub.lineage_lookups,
                             poll_interval=hub.poll_interval, spec=spec)
        for spec in configured_lists(settings)
    }
