"""Archive files → snapshots: pure parsers (text in, snapshots and unreadable rows out), never raising.

Three shapes cover every archive the bot reads:

- `trending-cache`: park-onezero/daily-hf-trending's `trending_cache.json`, the Hub's `/api/trending`
  answer keyed by id, each value holding `repoData` (id, likes, downloads, pipeline_tag). The
  object's order is the list's order, so rank = position.
- `trending-json`: Nitjsefnie/hf-trending's `trending.json` and any stored Hub answer of
  `/api/models?sort=trendingScore`: a list of items, or `{"models": [...]}` (one stored version looks
  like that), each with `id` and optionally rank, trendingScore, likes, downloads, pipeline_tag, createdAt.
  Rank = the item's `rank`, else its position.
- `rows-csv` / `rows-jsonl`: one row per entry with the snapshot's time in a column: the bot's own
  export (`python -m bot export snapshots`), severo/trending-repos' daily CSVs and the reference
  JSONL. Rows are grouped into snapshots by their time (and list, when a `list` column names one).

Items go through the same validation as the live poll (`bot.source.hub.parse_item`): an id the poll
would refuse makes the row unreadable, a field of the wrong type becomes unknown, as it would live.
A row that cannot be read is counted with its reason; the rest of its snapshot is kept.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.domain.snapshot import Entry
from bot.source.hub import HubError, entry_from_model, parse_item

Format = Literal["trending-cache", "trending-json", "rows-csv", "rows-jsonl"]
FORMATS: tuple[Format, ...] = ("trending-cache", "trending-json", "rows-csv", "rows-jsonl")


@dataclass(frozen=True, slots=True)
class ArchivedSnapshot:
    """One moment an archive recorded. `list_name` when the rows named their list (the bot's export);
    `kind` when the file says which kind of list it holds (severo's models.csv / datasets.csv / spaces.csv)."""

    taken_at: datetime
    entries: tuple[Entry, ...]
    list_name: str | None = None
    kind: str | None = None
    archive: str | None = None  # the bot's export names where each row came from


@dataclass(frozen=True, slots=True)
class Unreadable:
    where: str
    reason: str

    def line(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True)
class Parsed:
    snapshots: list[ArchivedSnapshot] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.snapshots.extend(other.snapshots)
        self.unreadable.extend(other.unreadable)


def parse_time(text: str) -> datetime:
    """An archive's time: ISO 8601 (with `Z`, an offset, or none = UTC), or a bare date (midnight UTC).
    ValueError when it is none of those."""
    value = text.strip()
    if not value or len(value) > 40:
        raise ValueError(f"not a time: {text[:40]!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1990 <= moment.year <= 9000:
        raise ValueError(f"a time outside any plausible range: {value!r}")
    return moment.astimezone(UTC)


_NAME_TIME = re.compile(
    r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?:[T_ .-]?(\d{2})[:\-_]?(\d{2})(?:[:\-_]?(\d{2}))?)?(?!\d)"
)


def time_from_name(name: str) -> datetime | None:
    """`trending-2026-03-02T12-17-14Z.json`, `20260302_1217.json`, `2026-03-02.json` → that moment (UTC)."""
    for match in _NAME_TIME.finditer(name):
        year, month, day, hour, minute, second = match.groups()
        try:
            return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                            tzinfo=UTC)
        except ValueError:
            continue
    return None


_TIME_FIELDS = ("taken_at", "snapshot_time", "fetched_at", "timestamp", "generated_at", "updated_at",
                "collected_at", "time", "date")


def _item_entry(position: int, item: object, kind: str, where: str) -> Entry | Unreadable:
    """One raw item, validated as the live poll validates it (`parse_item`); rank from `rank` or the position."""
    rank = position
    if isinstance(item, dict) and "rank" in item:
        raw_rank = item["rank"]
        if isinstance(raw_rank, str) and raw_rank.strip().isdigit():
            raw_rank = int(raw_rank)
        if not isinstance(raw_rank, int) or isinstance(raw_rank, bool) or not 1 <= raw_rank <= 100_000:
            return Unreadable(f"{where} entry #{position}", f"rank {str(raw_rank)[:20]!r} is not a whole number >= 1")
        rank = raw_rank
    try:
        model, _drifted = parse_item(position, item, kind)
    except HubError as exc:
        return Unreadable(f"{where} entry #{position}", str(exc))
    return replace(entry_from_model(rank, model), tags=())  # archives' tags are not today's: never stored


def _entries(items: Iterable[tuple[int, object]], kind: str, where: str,
             unreadable: list[Unreadable]) -> tuple[Entry, ...]:
    """Items → entries by rank; a second entry at a rank or of an id already listed is unreadable."""
    entries: list[Entry] = []
    ranks: set[int] = set()
    ids: set[str] = set()
    for position, item in items:
        found = _item_entry(position, item, kind, where)
        if isinstance(found, Unreadable):
            unreadable.append(found)
        elif found.id in ids:
            unreadable.append(Unreadable(f"{where} entry #{position}", f"{found.id} is listed twice"))
        elif found.rank in ranks:
            unreadable.append(Unreadable(f"{where} entry #{position}", f"rank {found.rank} is taken twice"))
        else:
            ids.add(found.id)
            ranks.add(found.rank)
            entries.append(found)
    return tuple(sorted(entries, key=lambda entry: entry.rank))


def _load_json(text: str, where: str, parsed: Parsed) -> object | None:
    try:
        data: object = json.loads(text)
    except ValueError as exc:
        parsed.unreadable.append(Unreadable(where, f"not JSON ({exc})"))
        return None
    return data


def parse_trending_cache(text: str, taken_at: datetime | None, where: str,
                         name_time: datetime | None = None) -> Parsed:
    """park-onezero's `trending_cache.json`: {id: {"repoData": {...}, "repoType": "model"}, ...} in rank order."""
    parsed = Parsed()
    data = _load_json(text, where, parsed)
    if data is None:
        return parsed
    if not isinstance(data, dict):
        parsed.unreadable.append(Unreadable(where, "not an object keyed by model id"))
        return parsed
    moment = taken_at or _own_time(data) or name_time
    if moment is None:
        parsed.unreadable.append(Unreadable(where, "no time: not in a git history, no time field, none in its name"))
        return parsed
    items: list[tuple[int, object]] = []
    for key, value in data.items():
        if key in _TIME_FIELDS:
            continue
        repo = value.get("repoData") if isinstance(value, dict) else None
        if isinstance(value, dict) and value.get("repoType") not in (None, "model"):
            continue  # the cache keeps models only; anything else is not this list's
        item = repo if isinstance(repo, dict) else {"id": key} if isinstance(value, dict) else value
        if isinstance(item, dict) and "id" not in item:
            item = {**item, "id": key}
        items.append((len(items) + 1, item))
    entries = _entries(items, "models", where, parsed.unreadable)
    if entries:
        parsed.snapshots.append(ArchivedSnapshot(moment, entries))
    elif not parsed.unreadable:
        parsed.unreadable.append(Unreadable(where, "an empty list"))
    return parsed


def _own_time(data: Mapping[str, object]) -> datetime | None:
    for key in _TIME_FIELDS:
        value = data.get(key)
        if isinstance(value, str):
            try:
                return parse_time(value)
            except ValueError:
                continue
    return None


def parse_trending_json(text: str, taken_at: datetime | None, where: str, kind: str = "models",
                        name_time: datetime | None = None) -> Parsed:
    """A stored Hub listing: `[{"id": ...}, ...]` or `{"models": [...]}` (or "items"/"datasets"/"spaces")."""
    parsed = Parsed()
    data = _load_json(text, where, parsed)
    if data is None:
        return parsed
    moment = taken_at
    items: object = data
    if isinstance(data, dict):
        moment = moment or _own_time(data)
        items = next((data[key] for key in ("models", "items", "datasets", "spaces", "trending") if key in data),
                     None)
    moment = moment or name_time
    if not isinstance(items, list):
        parsed.unreadable.append(Unreadable(where, "not a list of items, nor an object with \"models\": [...]"))
        return parsed
    if moment is None:
        parsed.unreadable.append(Unreadable(where, "no time: not in a git history, no time field, none in its name"))
        return parsed
    entries = _entries(enumerate(items, start=1), kind, where, parsed.unreadable)
    if entries:
        parsed.snapshots.append(ArchivedSnapshot(moment, entries))
    elif not parsed.unreadable:
        parsed.unreadable.append(Unreadable(where, "an empty list"))
    return parsed


# Row columns: the bot's own names first, then what other archives call them (severo/trending-repos'
# card lists no columns: these are the plausible names, read defensively).
_ALIASES: dict[str, tuple[str, ...]] = {
    "taken_at": ("taken_at", "snapshot_time", "datetime", "timestamp", "date", "time", "collected_at",
                 "fetched_at", "day"),
    "id": ("id", "model_id", "repo_id", "repoid", "hub_id", "repo", "name"),
    "rank": ("rank", "position"),
    "likes": ("likes",),
    "downloads": ("downloads",),
    "trendingScore": ("trending_score", "trendingscore", "score"),
    "pipeline_tag": ("pipeline_tag", "task"),
    "createdAt": ("created_at", "createdat"),
    "list": ("list",),
    "archive": ("archive",),
}
_NUMBERS = {"likes": int, "downloads": int, "trendingScore": float}


def _columns(names: Iterable[str]) -> dict[str, str]:
    """Our field → the row's own column name, for the columns the row has."""
    lowered = {name.strip().lower(): name for name in names}
    found: dict[str, str] = {}
    for ours, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                found[ours] = lowered[alias]
                break
    return found


def _number(text: object, kind: type) -> object:
    """'123' → 123 (or 123.0); '' → None; anything else stays as it is, so validation calls it drifted."""
    if not isinstance(text, str):
        return text
    value = text.strip()
    if not value:
        return None
    try:
        return kind(value) if kind is float else int(value)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if kind is int and number.is_integer() else value


def parse_rows(rows: Iterable[tuple[int, Mapping[str, object]]], source: str, kind: str | None = None) -> Parsed:
    """Rows of (line, {column: value}) → snapshots grouped by (list, time), ranks from `rank` or row order."""
    parsed = Parsed()
    groups: dict[tuple[str | None, datetime], list[tuple[int, object]]] = {}
    archives: dict[tuple[str | None, datetime], str | None] = {}
    columns: dict[str, str] | None = None
    for line, row in rows:
        if columns is None:
            columns = _columns(row.keys())
            missing = [name for name in ("taken_at", "id") if name not in columns]
            if missing:
                parsed.unreadable.append(Unreadable(
                    source, f"no {' and no '.join(missing)} column (columns: {', '.join(list(row)[:12])})"))
                return parsed
        where = f"{source} line {line}"
        raw_time = row.get(columns["taken_at"])
        try:
            moment = parse_time(str(raw_time)) if isinstance(raw_time, str | int | float) else None
        except ValueError:
            moment = None
        if moment is None:
            parsed.unreadable.append(Unreadable(where, f"time {str(raw_time)[:40]!r} is not a date or time"))
            continue
        list_name = str(row.get(columns["list"]) or "").strip() or None if "list" in columns else None
        item: dict[str, object] = {}
        for ours, theirs in columns.items():
            value = row.get(theirs)
            if ours in ("taken_at", "list", "archive") or value is None or value == "":
                continue
            item[ours] = _number(value, _NUMBERS[ours]) if ours in _NUMBERS else value
        key = (list_name, moment)
        group = groups.setdefault(key, [])
        group.append((len(group) + 1, item))
        if "archive" in columns:
            archives[key] = str(row.get(columns["archive"]) or "").strip() or None
    for (list_name, moment), items in sorted(groups.items(), key=lambda pair: (pair[0][1], pair[0][0] or "")):
        at = f"{source} at {moment.isoformat()}"
        entries = _entries(items, kind or "models", at, parsed.unreadable)
        if entries:
            parsed.snapshots.append(ArchivedSnapshot(moment, entries, list_name, kind,
                                                     archives.get((list_name, moment))))
    return parsed


def parse_rows_csv(text: str, source: str, kind: str | None = None) -> Parsed:
    reader = csv.DictReader(io.StringIO(text))
    try:
        rows = [(number, dict(row)) for number, row in enumerate(reader, start=2)]
    except csv.Error as exc:
        return Parsed(unreadable=[Unreadable(source, f"not CSV ({exc})")])
    if not rows:
        return Parsed(unreadable=[Unreadable(source, "no rows")])
    return parse_rows(rows, source, kind)


def parse_rows_jsonl(text: str, source: str, kind: str | None = None) -> Parsed:
    rows: list[tuple[int, Mapping[str, object]]] = []
    bad: list[Unreadable] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            bad.append(Unreadable(f"{source} line {number}", f"not JSON ({exc})"))
            continue
        if not isinstance(row, dict):
            bad.append(Unreadable(f"{source} line {number}", "not a JSON object"))
            continue
        rows.append((number, row))
    parsed = parse_rows(rows, source, kind) if rows else Parsed()
    parsed.unreadable[:0] = bad
    if not rows and not bad:
        parsed.unreadable.append(Unreadable(source, "no rows"))
    return parsed


def parse(fmt: Format, text: str, where: str, taken_at: datetime | None = None, kind: str | None = None,
          name_time: datetime | None = None) -> Parsed:
    """One file's text in the given format. Its time: `taken_at` (the git commit's) where there is one, else
    the file's own time field, else `name_time` (read from its name); rows carry their own."""
    if fmt == "trending-cache":
        return parse_trending_cache(text, taken_at, where, name_time)
    if fmt == "trending-json":
        return parse_trending_json(text, taken_at, where, kind or "models", name_time)
    if fmt == "rows-csv":
        return parse_rows_csv(text, where, kind)
    return parse_rows_jsonl(text, where, kind)


def detect_format(name: str, head: str) -> Format | None:
    """Which format a file is, from its name and first characters; None when it is none we read."""
    lowered = name.lower()
    start = head.lstrip()
    if lowered.endswith(".csv"):
        return "rows-csv"
    if lowered.endswith(".jsonl") or lowered.endswith(".ndjson"):
        return "rows-jsonl"
    if lowered.endswith("trending_cache.json") or (start.startswith("{") and '"repoData"' in head):
        return "trending-cache"
    if lowered.endswith(".json"):
        first_line = start.split("\n", 1)[0]
        if start.startswith("{") and first_line.rstrip().endswith("}") and "\n" in start.strip():
            return "rows-jsonl"  # several one-line objects
        return "trending-json"
    return None


KIND_OF_FILE = {"models.csv": "models", "datasets.csv": "datasets", "spaces.csv": "spaces"}


def within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """`since` inclusive, `until` exclusive (`until_bound` turns the user's inclusive `--until` into this)."""
    return (since is None or moment >= since) and (until is None or moment < until)


def until_bound(text: str) -> datetime:
    """`--until 2026-04-30` includes that whole day: the bound is the next midnight; a full time is itself
    (inclusive: the bound is one microsecond after it)."""
    moment = parse_time(text)
    if len(text.strip()) == 10:
        return moment + timedelta(days=1)
    return moment + timedelta(microseconds=1)


def dedupe(snapshots: Sequence[ArchivedSnapshot]) -> tuple[list[ArchivedSnapshot], int]:
    """One snapshot per (list, kind, moment), the first read; how many later ones repeated a moment."""
    seen: set[tuple[str | None, str | None, datetime]] = set()
    kept: list[ArchivedSnapshot] = []
    for snapshot in snapshots:
        key = (snapshot.list_name, snapshot.kind, snapshot.taken_at)
        if key not in seen:
            seen.add(key)
            kept.append(snapshot)
    return kept, len(snapshots) - len(kept)
