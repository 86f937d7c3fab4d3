"""Whose channel is it: every command that reads or changes a channel's settings goes through here.

A channel belongs to the server or workspace whose command subscribed it (`destinations.tenant_id`).
Another tenant's command naming the same channel (a Slack Connect channel shared by two workspaces, or a
forged interaction) reads and changes nothing of it. Channels no tenant owns (config routes, the console,
a self-hosted bot's channels from before tenants) stay open to commands in that channel, as they always were.
Per-tenant caps (`[tenants] max_*`) are checked here too, in the transaction that adds: write transactions
run one at a time on both stores, so two commands at once cannot both take a tenant's last place.
"""

from __future__ import annotations

from datetime import datetime

from bot.commands.caller import Caller, CommandError
from bot.config import TenantSettings
from bot.domain.destination import DEFAULT_SUBSCRIPTION, Destination
from store import destinations as dest_store
from store import tenants as tenant_store
from store.db import Conn


def tenant_word(platform: str) -> str:
    """What people call a tenant on that platform."""
    return "workspace" if platform == "slack" else "server"


async def caller_tenant(conn: Conn, caller: Caller, now: datetime, record: bool) -> int | None:
    """The caller's tenant id, or None when the platform named no tenant. `record` (a command that may
    subscribe) records a tenant seen for the first time; a read does not write, and a tenant the store
    never recorded owns no channel anyway."""
    if not caller.tenant:
        return None
    if record:
        return await tenant_store.ensure_tenant(conn, caller.platform, caller.tenant, caller.tenant_name, now)
    found = await tenant_store.get_tenant(conn, caller.platform, caller.tenant)
    return found.id if found is not None else None


def owns(destination: Destination, tenant_id: int | None) -> bool:
    return destination.tenant_id is None or destination.tenant_id == tenant_id


def refuse_foreign(caller: Caller) -> CommandError:
    return CommandError(f"This channel's alerts were set up from another {tenant_word(caller.platform)}:"
                        f" they cannot be read or changed from this one.")


async def own_channel(conn: Conn, caller: Caller, now: datetime,
                      record: bool = False) -> tuple[list[Destination], int | None]:
    """(every subscription of the caller's channel, the caller's tenant id), if the caller's tenant may see them.

    A channel belongs to one tenant whatever its subscriptions are called: if any of them was set up from
    another tenant, the whole channel is refused (a second tenant cannot add its own named subscription to
    a channel it does not own). A channel of another tenant is a CommandError, never an empty list: "not
    subscribed" would invite a subscribe that is refused anyway, and would say something false.
    """
    tenant_id = await caller_tenant(conn, caller, now, record)
    found = await dest_store.channel_destinations(conn, caller.platform, caller.channel)
    if any(not owns(destination, tenant_id) for destination in found):  # a tenant nobody recorded owns nothing
        raise refuse_foreign(caller)
    return found, tenant_id


async def own_destination(conn: Conn, caller: Caller, now: datetime, record: bool = False,
                          name: str = DEFAULT_SUBSCRIPTION) -> tuple[Destination | None, int | None]:
    """(the channel's subscription `name` if the caller's tenant may see the channel, the caller's tenant id)."""
    found, tenant_id = await own_channel(conn, caller, now, record)
    return next((destination for destination in found if destination.name == name), None), tenant_id


def _capped(caller: Caller, count: int, cap: int, what: str, key: str, undo: str) -> CommandError:
    return CommandError(f"This {tenant_word(caller.platform)} has {count} {what}, the most this bot allows"
                        f" ([tenants] {key} = {cap}): {undo} first.")


async def check_subscription_cap(conn: Conn, caller: Caller, tenant_id: int | None, caps: TenantSettings) -> None:
    cap = caps.max_subscriptions
    if tenant_id is None or cap is None:
        return
    count = await tenant_store.count_subscriptions(conn, tenant_id)
    if count >= cap:
        raise _capped(caller, count, cap, "subscriptions" if count != 1 else "subscription", "max_subscriptions",
                      "unsubscribe one (every subscription of a channel counts)")


async def check_rule_cap(conn: Conn, caller: Caller, tenant_id: int | None, caps: TenantSettings) -> None:
    cap = caps.max_rules
    if tenant_id is None or cap is None:
        return
    count = await tenant_store.count_rules(conn, tenant_id, subscribed_only=True)
    if count >= cap:
        raise _capped(caller, count, cap, "share rules", "max_rules", "remove a rule")


async def check_watch_cap(conn: Conn, caller: Caller, tenant_id: int | None, caps: TenantSettings) -> None:
    cap = caps.max_watches
    if tenant_id is None or cap is None:
        return
    count = await tenant_store.count_watches(conn, tenant_id, subscribed_only=True)
    if count >= cap:
        raise _capped(caller, count, cap, "watches", "max_watches", "unwatch something")
