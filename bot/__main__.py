"""Command line: run | once | trending | share | digest | channels | resume | tenants | attribution | label
| reattribute | import | export | demo | check-config."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from adapters.console import render_text
from bot.commands.answers import share_chart, share_message, share_view, trending_message, trending_view
from bot.commands.caller import CommandError, echo
from bot.commands.silences import silence_line
from bot.config import (
    ConfigError,
    Secrets,
    Settings,
    check_slack_oauth,
    configured_lists,
    list_named,
    load_settings,
    parse_settings,
    requests_per_5_minutes,
    unavailable_platforms,
)
from bot.delivery.wording import render
from bot.digest.week import WeekError, parse_week, previous_week
from bot.domain.country_codes import iso_country_codes
from bot.domain.destination import DEFAULT_SUBSCRIPTION, Destination
from bot.domain.lists import ListSpec
from bot.domain.snapshot import DEFAULT_LIST
from bot.log import get_logger, setup_logging
from store import labels
from store import silences as silence_store
from store import tenants as tenant_store
from store.copy import copy_store
from store.db import StoreError, StoreLocation, open_database
from store.destinations import active_destinations, channel_destinations, resume_channel
from store.snapshots import latest_snapshots

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_USAGE = 2  # argparse's own code for a bad argument
MAX_COUNT = 1000


class _Parser(argparse.ArgumentParser):
    """A bad argument gets ONE line (argparse prints the whole usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = text.strip()
        if not (value.isascii() and value.lstrip("-").isdigit() and len(value) < 12) or not low <= int(value) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {text!r}")
        return int(value)

    parse.__name__ = "number"
    return parse


def _country(text: str) -> str:

    code = text.strip().upper()
    if code != "UNKNOWN" and code not in iso_country_codes():
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 3166-1 country code like CN or US (or 'unknown')")
    return code if code != "UNKNOWN" else "unknown"


def _png_file(text: str) -> Path:
    """Charts are PNG: a .jpg name would get PNG bytes under a lying suffix, so it is refused."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"the chart is a PNG image: give a file name ending in .png, not {text!r}")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: folder {path.parent} does not exist")
    return path


def _write_chart(path: Path, data: bytes) -> None:

    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write the chart to {path}: {exc.strerror or exc}") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--config", type=Path, help="TOML config file (default: ./trendwatch.toml if present)")
        return cmd

    command("run", "poll, deliver and answer commands until stopped (SIGINT/SIGTERM)")
    command("once", "one poll: fetch, store, detect, deliver; exit 1 if the Hub's answer is unusable")
    trending = command("trending", "show the latest stored top list")
    trending.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    trending.add_argument("--count", type=_whole_number(1, MAX_COUNT), default=None,
                          help=f"how many rows, 1 to {MAX_COUNT} (default: top_n)")
    trending.add_argument("--country", type=_country, default=None,
                          help="only models of this country (ISO code, or 'unknown')")
    trending.add_argument("--list", dest="list_name", default=None, help="a [[lists]] name (default: models)")
    share = command("share", "show country shares of the top N now and over the last days")
    share.add_argument("--json", action="store_true", help="print JSON instead of text")
    share.add_argument("--days", type=_whole_number(1, 366), default=7, help="look-back window, 1 to 366 (default 7)")
    share.add_argument("--list", dest="list_name", default=None, help="a [[lists]] name (default: models)")
    share.add_argument("--chart", type=_png_file, metavar="FILE.png", help="also write the share chart to this PNG")
    share.add_argument("--csv", action="store_true",
                       help="print shares over time as CSV, exactly as the web page's /export/share.csv")
    share.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="with --csv: first day (default: the first)")
    share.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="with --csv: last day (default: the last)")
    share.add_argument("--resolution", choices=("day", "week", "month"), default="week",
                       help="with --csv: one row per country and day, week (default) or month")
    digest = command("digest", "build the weekly (or --daily) digest and post it to subscribed channels"
                     " (or print it: --dry-run)")
    digest.add_argument("--week", help="ISO week like 2025-W30 (default: the last full week, in [digest] timezone)")
    digest.add_argument("--out", type=_png_file, metavar="FILE.png", help="also write its chart to this PNG file")
    digest.add_argument("--dry-run", action="store_true", help="print it here; store and post nothing")
    digest.add_argument("--daily", action="store_true", help="the daily digest instead (of yesterday, by default)")
    digest.add_argument("--day", help="with --daily: a day like 2026-05-14 (default: yesterday, in [digest] timezone)")
    channels = command("channels", "list the channels that get alerts, and which are paused and why")
    channels.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    resume = command("resume", "send to a paused channel again once its cause is fixed (fresh baseline)")
    resume.add_argument("platform", choices=("discord", "slack"))
    resume.add_argument("channel", help="the channel id, as in [[routes]] or `channels`")
    _tenant_commands(command)
    _attribution_commands(command)
    db = command("db", "move the store: `db copy --to postgresql://…` copies the SQLite file into PostgreSQL")
    db.add_argument("action", choices=("copy",))
    db.add_argument("--to", required=True, metavar="URL", help="an empty PostgreSQL database: postgresql://…")
    db.add_argument("--from", dest="source", type=Path, default=None, metavar="FILE",
                    help="the SQLite file (default: [store] path)")
    _archive_commands(command)
    command("check-config", "validate a config file and say which key is wrong")
    keygen = command("keygen", "print a new TRENDWATCH_SECRET_KEY (it seals the tokens Slack workspaces grant)")
    keygen.add_argument("--rotate", action="store_true",
                        help="instead, re-seal every stored token with the first key of TRENDWATCH_SECRET_KEY")
    demo = command("demo", "replay a bundled week of trending snapshots through the real pipeline (no network)")
    demo.add_argument("--format", choices=("text", "jsonl"), default="text")
    demo.set_defaults(refuses_config=True)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _list_spec(args: argparse.Namespace) -> ListSpec:
    """`--list NAME` → the configured list; an unknown name is one line naming the configured ones (exit 1)."""

    try:
        return list_named(_settings(args), args.list_name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


async def _cmd_once(args: argparse.Namespace) -> int:
    from bot.app import LeaseHeld, run_once  # this command's own import: keeps the others quick

    try:
        result = await run_once(_settings(args), Secrets.from_env())
    except LeaseHeld as exc:
        print(f"trendwatch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if result.error:
        print(f"trendwatch: poll failed: {result.error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


async def _cmd_run(args: argparse.Namespace) -> int:
    from bot.worker import run_forever  # this command's own import: keeps the others quick

    await run_forever(_settings(args), Secrets.from_env())
    return 0


async def _read_store(args: argparse.Namespace, read: Callable[[Any], Awaitable[Any]]) -> Any:

    settings = _settings(args)
    db = await open_database(settings.store.location)
    try:
        return await read(db.conn)
    finally:
        await db.close()


async def _cmd_trending(args: argparse.Namespace) -> int:

    spec = _list_spec(args)
    view = await _read_store(args, lambda conn: trending_view(conn, args.count, args.country, spec.name, spec.kind))
    if args.json:
        print(json.dumps([asdict(row) for row in view.rows], indent=2, ensure_ascii=False))
    else:
        print(render_text(trending_message(view, args.country)))
    return 0


async def _cmd_share(args: argparse.Namespace) -> int:

    name = _list_spec(args).name
    if args.csv:
        return await _share_csv(args, name)
    if args.chart and name != DEFAULT_LIST:
        print(f"trendwatch share: --chart draws the models list only, not {name!r}", file=sys.stderr)
        return EXIT_USAGE
    view = await _read_store(args, lambda conn: share_view(conn, args.days, name))
    if args.json:
        print(json.dumps({
            "taken_at": view.taken_at.isoformat(),
            "top_n": view.top_n,
            "days": view.days,
            "snapshots": view.snapshots_7d,
            "archives": dict(view.archives),
            "countries": [asdict(row) for row in view.countries],
            "unknown": view.unknown_json(),
        }, indent=2, ensure_ascii=False))
    else:
        print(render_text(share_message(view)))
    if args.chart:

        image = await _read_store(args, lambda conn: share_chart(conn, args.days))
        _write_chart(args.chart, image.data)
        print(f"chart written to {args.chart}", file=sys.stderr if args.json else sys.stdout)
    return 0


async def _share_csv(args: argparse.Namespace, list_name: str) -> int:
    """`share --csv`: the web page's own query and CSV writer, so both give the same bytes."""
    from bot.web.share import BadParameter, ShareQuery, share_csv, share_table  # this option's own import

    params = {"list": list_name, "from": args.start or "", "to": args.end or "", "resolution": args.resolution}
    try:
        query = ShareQuery.parse(params, [list_name])
    except BadParameter as exc:
        raise CommandError(f"share --csv: {exc}") from None
    sys.stdout.write(share_csv(await _read_store(args, lambda conn: share_table(conn, query))))
    return 0


async def _cmd_digest(args: argparse.Namespace) -> int:
    """Dry run: compute and print. Otherwise store it once (like the schedule) and deliver if no worker runs."""

    from bot.app import Trendwatch  # this command's own import: keeps the others quick
    from bot.digest.chart import digest_image  # this command's own import: keeps the others quick
    from bot.digest.weekly import compute_digest, create_digest  # this command's own import: keeps the others quick

    if args.daily or args.day:
        return await _daily_digest(args)
    settings = _settings(args)
    now = datetime.now(UTC)
    week = args.week or previous_week(now, ZoneInfo(settings.digest.timezone))
    try:
        parse_week(week)
    except WeekError as exc:
        raise CommandError(str(exc)) from None
    if args.dry_run:
        digest = await _read_store(args, lambda conn: compute_digest(conn, settings, week, now))
        print(render_text(render(digest)))
    else:
        app = await Trendwatch.open(settings, Secrets.from_env())
        try:
            outcome = await create_digest(app.db, settings, week, now, "command")
            if outcome.digest is None:
                raise CommandError(f"{outcome.reason}; it is not posted twice (see it with --dry-run)")
            digest = outcome.digest
            if await app.acquire_lease() is None:
                report = await app.deliver()
                print(f"digest {week} posted to {report.sent} channel(s)", file=sys.stderr)
            else:
                print(f"digest {week} queued for {outcome.recipients} channel(s); the running bot delivers it",
                      file=sys.stderr)
        finally:
            await app.close()
    if args.out:
        image = await asyncio.to_thread(digest_image, digest)
        if image is None:
            print(f"no chart: no snapshot was stored in {week}", file=sys.stderr)
        else:
            _write_chart(args.out, image.data)
            print(f"chart written to {args.out}")
    return 0


async def _daily_digest(args: argparse.Namespace) -> int:
    """`digest --daily`: as the weekly one, for one calendar day; text only (the daily digest has no chart)."""
    from bot.app import Trendwatch  # this command's own import: keeps the others quick
    from bot.digest.daily import compute_daily_digest, create_daily_digest  # this command's own import
    from bot.digest.day import DayError, parse_day, previous_day  # this command's own import

    if not args.daily:
        raise CommandError("--day picks the day of a daily digest: add --daily (the weekly one takes --week)")
    if args.week or args.out:
        raise CommandError(f"{'--week' if args.week else '--out'} is for the weekly digest; the daily one takes --day"
                           " and has no chart")
    settings = _settings(args)
    now = datetime.now(UTC)
    try:
        day = parse_day(args.day).isoformat() if args.day else previous_day(now, ZoneInfo(settings.digest.timezone))
    except DayError as exc:
        raise CommandError(f"--day: {exc}") from None
    if args.dry_run:
        digest = await _read_store(args, lambda conn: compute_daily_digest(conn, settings, day, now))
        print(render_text(render(digest)))
        return 0
    app = await Trendwatch.open(settings, Secrets.from_env())
    try:
        outcome = await create_daily_digest(app.db, settings, day, now, "command")
        if outcome.digest is None:
            raise CommandError(f"{outcome.reason}; it is not posted twice (see it with --dry-run)")
        if await app.acquire_lease() is None:
            report = await app.deliver()
            print(f"daily digest {day} posted to {report.sent} channel(s)", file=sys.stderr)
        else:
            print(f"daily digest {day} queued for {outcome.recipients} channel(s); the running bot delivers it",
                  file=sys.stderr)
    finally:
        await app.close()
    return 0


def _channel_line(destination: Destination, unavailable: dict[str, str]) -> str:
    kinds = ",".join(k for k in destination.kinds if k != "new_leader")
    state = f"PAUSED: {destination.paused_reason}" if destination.paused_at else "active"
    if destination.platform in unavailable:
        state = f"NOT SENT: {unavailable[destination.platform]} (alerts queue)"
    return (f"{destination.platform}:{destination.channel}  subscription {destination.name}  via {destination.origin}"
            f"  {kinds}  {state}")


async def _channels_and_silences(conn: Any) -> tuple[list[Destination], dict[tuple[str, str], list[str]]]:
    """The active channels, and each channel's active silences as `alerts status` words them."""
    now = datetime.now(UTC)
    held_by = await silence_store.active_for_channels(conn, now)
    counts = await silence_store.held_counts(conn, [s.id for found in held_by.values() for s in found])
    return await active_destinations(conn), {channel: [silence_line(s, now, counts.get(s.id, 0)) for s in found]
                                             for channel, found in held_by.items()}


async def _cmd_channels(args: argparse.Namespace) -> int:

    unavailable = unavailable_platforms(_settings(args), Secrets.from_env())
    destinations, silenced = await _read_store(args, _channels_and_silences)
    if args.json:
        print(json.dumps([{
            "platform": d.platform, "channel": d.channel, "subscription": d.name, "origin": d.origin,
            "kinds": list(d.kinds), "paused": d.paused_at is not None, "paused_reason": d.paused_reason,
            "not_sent": unavailable.get(d.platform), "silences": silenced.get((d.platform, d.channel), []),
        } for d in destinations], indent=2, ensure_ascii=False))
    else:
        print("\n".join(_channel_line(d, unavailable) + "".join(f"\n  silence {shown}" for shown in
                                                                silenced.get((d.platform, d.channel), []))
                        for d in destinations) or "no channel gets alerts")
    return 0


async def _cmd_resume(args: argparse.Namespace) -> int:
    """The file operator's `alerts subscribe` for a paused channel: same store call, same fresh baseline.

    A pause is per channel (the platform said the channel is gone), so a resume is too: every subscription of it.
    """


    db = await open_database(_settings(args).store.location)
    try:
        async with db.transaction() as conn:
            found = [d for d in await channel_destinations(conn, args.platform, args.channel) if d.active]
            if not found:
                raise CommandError(f"{args.platform}:{args.channel} gets no alerts (see `python -m bot channels`)")
            paused = next((d for d in found if d.paused_at is not None), None)
            if paused is None:
                print(f"{args.platform}:{args.channel} is not paused")
                return 0
            resumed = await resume_channel(conn, args.platform, args.channel, datetime.now(UTC))
    finally:
        await db.close()
    print(f"{args.platform}:{args.channel} resumed ({resumed} subscription{'s' if resumed != 1 else ''};"
          f" was: {paused.paused_reason}); the next poll is its baseline")
    return 0


def _tenant_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    found = command("tenants", "the Discord servers and Slack workspaces the bot serves; `tenants export ID`"
                               " prints one's data as JSON, `tenants delete ID` removes it")
    found.add_argument("action", nargs="?", choices=("list", "export", "delete"), default="list",
                       help="list (default), export or delete")
    found.add_argument("tenant", nargs="?", metavar="ID",
                       help="a Slack team id (T…) or Discord server id, optionally as slack:ID / discord:ID")
    found.add_argument("--json", action="store_true", help="list as JSON")


def _tenant_line(summary: tenant_store.TenantSummary) -> str:
    tenant = summary.tenant
    state = "active" if tenant.state == "active" else f"LEFT {tenant.left_at:%Y-%m-%d %H:%M} UTC"
    name = f"  {tenant.name}" if tenant.name else ""
    return (f"{tenant.platform}:{tenant.external_id}{name}  {summary.channels} channel(s), {summary.rules} rule(s),"
            f" {summary.watches} watch(es)  {state}")


async def _cmd_tenants(args: argparse.Namespace) -> int:
    """List, export or delete tenants; an export holds only that tenant's rows, a delete says what went."""
    if args.action != "list" and not args.tenant:
        raise CommandError(f"tenants {args.action} needs an ID: a Slack team id (T…) or a Discord server id")
    if args.action == "list" and args.tenant:
        raise CommandError(f"'{echo(args.tenant)}': did you mean `tenants export {echo(args.tenant)}`?")
    db = await open_database(_settings(args).store.location)
    try:
        if args.action == "list":
            summaries = await tenant_store.tenant_summaries(db.conn)
            if args.json:
                print(json.dumps([{
                    "platform": s.tenant.platform, "id": s.tenant.external_id, "name": s.tenant.name,
                    "state": s.tenant.state, "channels": s.channels, "rules": s.rules, "watches": s.watches,
                    "filters": s.filters,
                    "left_at": s.tenant.left_at.isoformat() if s.tenant.left_at else None,
                } for s in summaries], indent=2, ensure_ascii=False))
            else:
                print("\n".join(_tenant_line(s) for s in summaries) or "no server or workspace has used the bot")
            return 0
        found = await tenant_store.find_tenant(db.conn, args.tenant)
        if found is None:
            raise CommandError(f"no server or workspace '{echo(args.tenant)}' (see `python -m bot tenants`)")
        if args.action == "export":
            print(json.dumps(await tenant_store.export_tenant(db.conn, found.id), indent=2, ensure_ascii=False))
            return 0
        async with db.transaction() as conn:
            removed = await tenant_store.delete_tenant(conn, found.id)
    finally:
        await db.close()
    print(f"{found.platform}:{found.external_id} removed: {removed.describe()}")
    return 0


def _attribution_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    audit = command("attribution",
                    "every namespace seen in the top N lately: country, method, confidence (unknowns first)")
    audit.add_argument("--days", type=int, default=30, help="look-back window (default 30)")
    audit.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    label = command("label", "set (or --remove) an operator's country for a namespace or a model id")
    label.add_argument("target", metavar="NAMESPACE_OR_MODEL", help="e.g. 'jane' or 'jane/model'")
    label.add_argument("country", metavar="CC", nargs="?", help="ISO 3166-1 alpha-2 code, e.g. CN")
    label.add_argument("--remove", action="store_true", help="remove the label instead")
    command("reattribute", "re-decide the country of every stored entry with today's tables and labels")


async def _cmd_attribution(args: argparse.Namespace) -> int:

    from bot.attribution.upkeep import audit  # this command's own import: keeps the others quick

    if not 1 <= args.days <= 3660:
        raise CommandError(f"--days must be between 1 and 3660, not {args.days}")

    async def read(conn: Any) -> Any:
        latest = await latest_snapshots(conn, 1)
        if not latest:
            raise CommandError("No snapshot stored yet: run `python -m bot once` first.")
        return await audit(conn, latest[0].snapshot.taken_at - timedelta(days=args.days))

    rows = await _read_store(args, read)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return 0
    print(f"Namespaces in the top N over the last {args.days} days (unknowns first); appearances = entries")
    for row in rows:
        how = f"{row.method} {row.via}" if row.via and row.method != "namespace" else row.method
        models = ", ".join(row.models[:3]) + (f" (+{len(row.models) - 3})" if len(row.models) > 3 else "")
        print(f"{row.appearances:6d}  {row.country:7s}  {row.namespace:28s}  {how:40s}  {row.confidence:11s}  {models}")
    return 0


def _operator() -> str:

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment: still record that it was the CLI
        return "cli"


async def _cmd_label(args: argparse.Namespace) -> int:
    """Labels are the operator's act (CLI), never a chat command: they change attribution for everyone."""

    from bot.attribution.upkeep import reattribute  # this command's own import: keeps the others quick

    target = args.target.strip().removeprefix("https://huggingface.co/").strip("/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?", target):
        raise CommandError(f"{args.target!r} is not a namespace ('org') or a model id ('org/name')")
    country = (args.country or "").strip().upper()
    if args.remove and country:
        raise CommandError("give either a country or --remove, not both")
    if not args.remove and country not in iso_country_codes():
        raise CommandError(f"expected a two-letter ISO 3166-1 country code like 'CN', got {args.country!r}")
    settings = _settings(args)
    who, now = _operator(), datetime.now(UTC)
    db = await open_database(settings.store.location)
    try:
        async with db.transaction() as conn:
            if args.remove:
                before = await labels.remove_label(conn, target)
            else:
                before = await labels.set_label(conn, target, country, who, now)
        if args.remove and before is None:
            print(f"{target} has no label")
            return 0
        # WARNING, not INFO: one-shot commands log at WARNING, and a label changes attribution for everyone.
        get_logger("bot.label").warning("label %s: %s -> %s by %s at %s", target.lower(),
                                     before.country if before else "none", "removed" if args.remove else country,
                                     who, now.isoformat(timespec="seconds"))
        report = await reattribute(db, settings, now)
    finally:
        await db.close()
    done = f"label on {target.lower()} removed" if args.remove else f"{target.lower()} labelled {country}"
    print(f"{done}; {report.changed} stored entr{'y' if report.changed == 1 else 'ies'} re-attributed")
    return 0


async def _cmd_reattribute(args: argparse.Namespace) -> int:

    from bot.attribution.upkeep import reattribute  # this command's own import: keeps the others quick

    settings = _settings(args)
    db = await open_database(settings.store.location)
    try:
        report = await reattribute(db, settings, datetime.now(UTC))
    finally:
        await db.close()
    print(f"re-attributed {report.models} model(s): {report.changed} stored entr"
          f"{'y' if report.changed == 1 else 'ies'} changed (attribution data {report.version});"
          " sent alerts stay as sent")
    return 0


async def _cmd_db(args: argparse.Namespace) -> int:
    """`db copy`: the SQLite store → an empty PostgreSQL database, counted both sides, then what to change."""


    log = get_logger("bot.db")

    source_path = args.source or _settings(args).store.path
    if not source_path.is_file():
        raise StoreError(f"no SQLite store at {source_path} to copy (give --from FILE or fix [store] path)")
    try:
        target_location = StoreLocation.of(args.to)
    except ValueError as exc:
        raise StoreError(f"--to {exc}") from None
    source = await open_database(source_path)
    try:
        target = await open_database(target_location)
        try:
            report = await copy_store(source, target, datetime.now(UTC),
                                      lambda table, rows: log.info("copied %s: %d rows", table, rows))
        finally:
            await target.close()
    finally:
        await source.close()
    total = sum(report.counts.values())
    print(f"copied {total} rows in {len(report.counts)} tables from {source_path} to"
          f" {target_location.describe}; every table's count checked:")
    for table, rows in report.counts.items():
        print(f"  {table:20} {rows}")
    for table, values in report.unknown.items():
        print(f"note: {values} value(s) in {table} were not numbers (written by an older version); the bot read"
              " them as unknown and PostgreSQL stores them as NULL, read the same way")
    print("Next: set DATABASE_URL to that URL (or [store] url in the config), start `python -m bot run`,"
          f" and keep {source_path} as a backup: nothing reads it any more.")
    return 0


def _archive_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    imported = command("import", "import history from a public archive (git repository, .bundle, folder or file)")
    imported.add_argument("source", type=Path, metavar="SOURCE",
                          help="a git archive, a .bundle, a folder of snapshots, or one file (.json, .jsonl, .csv)")
    imported.add_argument("--format", dest="archive_format", default=None,
                          help="trending-cache, trending-json, rows-csv or rows-jsonl (default: detected)")
    imported.add_argument("--list", dest="list_name", default=None,
                          help="the list to import into (default: models, or the list each row or file names)")
    imported.add_argument("--since", default=None, help="only snapshots at or after this date or time (UTC)")
    imported.add_argument("--until", default=None, help="only snapshots up to this date (the whole day) or time")
    imported.add_argument("--archive", default=None, help="the name to store them under (default: the archive's)")
    imported.add_argument("--dry-run", action="store_true", help="say what would be imported; write nothing")
    export = command("export", "export stored history: `export snapshots` writes one row per entry to stdout")
    export.add_argument("what", choices=("snapshots",))
    export.add_argument("--from", dest="since", default=None, help="first date or time (UTC; default: the start)")
    export.add_argument("--to", dest="until", default=None, help="last date (the whole day) or time (default: now)")
    export.add_argument("--format", dest="export_format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--list", dest="list_name", default=None, help="one list (default: every list)")


def _moment(option: str, text: str | None, end: bool = False) -> datetime | None:
    """`--since 2026-03-01` / `--until 2026-03-31T12:00Z` → a UTC bound; a bad one is one line (exit 1).
    An end given as a date includes that whole day."""

    from bot.archive.formats import parse_time, until_bound  # this command's own import: keeps the others quick

    if text is None:
        return None
    try:
        return until_bound(text) if end else parse_time(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date or time (expected 2026-03-01 or"
                           " 2026-03-01T12:00:00Z)") from None


async def _cmd_import(args: argparse.Namespace) -> int:

    from bot.archive.importer import ImportRefused, import_reading, progress_bar  # this command's own import
    from bot.archive.reading import ArchiveError, parse_format, read_source

    since, until = _moment("--since", args.since), _moment("--until", args.until, end=True)
    settings = _settings(args)
    try:
        fmt = parse_format(args.archive_format)
        if args.list_name is not None:
            list_named(settings, args.list_name)
        reading_bar = progress_bar(None, "reading")
        try:
            reading = await asyncio.to_thread(read_source, args.source, fmt, reading_bar.update)
        finally:
            reading_bar.close()
        db = await open_database(settings.store.location)
        try:
            report = await import_reading(db, settings, reading, list_name=args.list_name, archive=args.archive,
                                          since=since, until=until, dry_run=args.dry_run)
        finally:
            await db.close()
    except (ArchiveError, ImportRefused, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(report.summary(reading.described))
    for problem in report.unreadable[:20]:
        print(f"  unreadable: {problem.line()}")
    if len(report.unreadable) > 20:
        print(f"  … and {len(report.unreadable) - 20} more unreadable")
    return 0


async def _cmd_export(args: argparse.Namespace) -> int:

    from bot.archive.export import to_csv, to_jsonl  # this command's own import: keeps the others quick
    from store.exports import snapshot_rows

    since = _moment("--from", args.since) or datetime(1970, 1, 1, tzinfo=UTC)
    end = _moment("--to", args.until, end=True)
    until = end - timedelta(microseconds=1) if end else datetime.now(UTC)
    name = _list_spec(args).name if args.list_name is not None else None
    rows = await _read_store(args, lambda conn: snapshot_rows(conn, name, since, until))
    sys.stdout.write(to_csv(rows) if args.export_format == "csv" else to_jsonl(rows))
    return 0


async def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    where = args.config or "embedded defaults"
    secrets = Secrets.from_env()
    outputs = ["console"] if settings.console.enabled else []
    if settings.discord.enabled:
        outputs.append("discord" + ("" if secrets.discord_token else " (DISCORD_TOKEN missing)"))
    if settings.slack.enabled and settings.slack.oauth:
        check_slack_oauth(settings, secrets)  # a missing secret or a bad key: one line naming it
        outputs.append("slack (Add to Slack: each installed workspace's token, sealed in the store)")
    elif settings.slack.enabled:
        outputs.append("slack" + ("" if secrets.slack_bot_token else " (SLACK_BOT_TOKEN missing)"))
    if settings.store.url is None and not settings.store.path.parent.is_dir():
        raise ConfigError(f"{where}: store.path: folder {settings.store.path.parent} does not exist"
                          " (create it, mount the volume, or fix the path)")

    from bot.web.ops import describe_endpoint  # this command's own import: keeps the others quick

    print(
        f"config OK ({where}): hub {settings.hub.endpoint}, top {settings.hub.top_n} of {settings.hub.depth},"
        f" every {settings.hub.poll_interval}; store {settings.store.location.describe};"
        f" {len(settings.share_rules)} share rule(s); outputs: {', '.join(outputs) or 'none'};"
        f" ops endpoint: {describe_endpoint(settings)}"
    )
    unavailable = unavailable_platforms(settings, secrets)
    for route in settings.routes:
        if route.platform in unavailable:
            named = "" if route.name == DEFAULT_SUBSCRIPTION else f" (subscription {route.name})"
            print(f"warning: route {route.platform}:{route.channel}{named} gets nothing while"
                  f" {unavailable[route.platform]}: its alerts queue unseen")
    if settings.lists or settings.watch:

        shown = ", ".join(f"{spec.name} ({spec.kind}, top {spec.top_n} of {spec.depth}"
                          + "".join(f", {key}={value}" for key, value in spec.filters.items()) + ")"
                          for spec in configured_lists(settings))
        print(f"lists: {shown}; {len(settings.watch)} watch(es); at most"
              f" {requests_per_5_minutes(settings):.0f} Hub requests in 5 minutes (the Hub allows 500)")
    return 0


async def _cmd_keygen(args: argparse.Namespace) -> int:
    """A new key on stdout; or, with --rotate, every stored Slack installation re-sealed with the newest key."""
    from store import slack_installations  # this command's own import: keeps the others quick
    from store.sealing import SECRET_KEY_VARIABLE, Sealer, SealError, new_key

    if not args.rotate:
        print(new_key())
        return 0
    try:
        sealer = Sealer.from_value(os.environ.get(SECRET_KEY_VARIABLE))
    except SealError as exc:
        raise ConfigError(f"environment: {exc}") from None
    settings = _settings(args)
    db = await open_database(settings.store.location)
    try:
        async with db.transaction() as conn:
            try:
                changed = await slack_installations.reseal_all(conn, sealer)
            except SealError as exc:
                raise CommandError(f"{exc}; nothing was changed") from None
    finally:
        await db.close()
    print(f"re-sealed {changed} stored Slack installation row(s) with the first key of {SECRET_KEY_VARIABLE};"
          f" every row now opens with it alone: the other {sealer.count - 1} key(s) can be removed")
    return 0


async def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.app import Trendwatch, demo_replay_path  # this command's own import: keeps the others quick
    from bot.source.replay import ReplaySource  # this command's own import: keeps the others quick

    replay = demo_replay_path()
    with tempfile.TemporaryDirectory(prefix="trendwatch-demo-") as tmp:
        settings = parse_settings(
            {
                "hub": {"replay": str(replay)},
                "store": {"path": str(Path(tmp) / "demo.db")},
                "console": {"enabled": True, "format": args.format},
                "share_rules": [
                    {"country": "CN", "above": 50, "notify_resolved": True},
                    {"country": "CN", "above": 60, "notify_resolved": True},
                ],
            },
            env={},
            origin="demo",
        )
        app = await Trendwatch.open(settings, Secrets.from_env({}))
        source = app.source
        assert isinstance(source, ReplaySource)
        try:
            await app.acquire_lease()
            if args.format == "text":
                print(f"Replaying {len(source)} recorded hourly snapshots of the Hub's trending list"
                      " (rules: alert when China holds 50% or 60% of the top 10, and when that ends).\n")
            sent = 0
            for _ in range(len(source)):
                await app.poll()
                sent += (await app.deliver()).sent
            if args.format == "text":

                print(f"— {sent} alerts from {len(source)} polls. Where the week ended:\n")
                print(render_text(trending_message(await trending_view(app.db.conn))) + "\n")
                print(render_text(share_message(await share_view(app.db.conn))))
        finally:
            await app.close()
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "once": _cmd_once,
    "run": _cmd_run,
    "trending": _cmd_trending,
    "share": _cmd_share,
    "digest": _cmd_digest,
    "channels": _cmd_channels,
    "resume": _cmd_resume,
    "tenants": _cmd_tenants,
    "attribution": _cmd_attribution,
    "label": _cmd_label,
    "reattribute": _cmd_reattribute,
    "check-config": _cmd_check_config,
    "keygen": _cmd_keygen,
    "demo": _cmd_demo,
    "db": _cmd_db,
    "import": _cmd_import,
    "export": _cmd_export,
}


def _log_level(args: argparse.Namespace) -> str:
    """`[log] level` when the file sets it; else INFO for `run` and WARNING for one-shot commands,
    so a failing `once` says exactly one line (retries and progress are INFO)."""
    if args.command == "demo":
        return "WARNING"
    settings = _settings(args)
    if "level" in settings.log.model_fields_set:
        return settings.log.level
    return "INFO" if args.command == "run" else "WARNING"


def _quiet_broken_pipe() -> int:
    """`python -m bot trending | head`: the reader left; stop quietly (and keep Python's exit flush quiet too)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:

    args = _parser().parse_args(argv)
    if getattr(args, "refuses_config", False) and args.config is not None:
        print(f"trendwatch: {args.command} replays a bundled week with its own built-in settings;"
              " it does not read --config (try `once --config` or `check-config --config`)", file=sys.stderr)
        return EXIT_USAGE
    try:
        level = _log_level(args)
        log_format = _settings(args).log.format
    except ConfigError as exc:
        print(f"trendwatch: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(level, log_format)
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except ConfigError as exc:
        print(f"trendwatch: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (CommandError, StoreError) as exc:
        print(f"trendwatch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
