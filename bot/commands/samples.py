"""`/alerts test`: one sample event of each alert kind a channel takes, marked `test`. Pure: no store, no I/O.

A sample is built from the newest snapshot the bot polled (real models, real ranks and countries), so the
channel sees what its alerts will look like; with no snapshot yet it names a plainly fake model. Either way
the event is marked `test`: rendered with "Test:" and a line saying nothing happened, and never shown on
the public page or in the feeds. Samples are only ever queued for the one channel that asked; they are not
rule state (nothing here reads or writes what the rules remember).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from bot.domain.events import (
    ALERT_KINDS,
    Climber,
    ClimberModel,
    CountryAverage,
    DailyDigest,
    DailyHold,
    DailyLeader,
    Digest,
    DigestLeader,
    DigestNewcomer,
    Entered,
    EnteredModel,
    Event,
    Left,
    LeftModel,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.snapshot import UNKNOWN, Entry, Snapshot

FAKE_MODEL = "example-org/sample-model"  # no such repository on the Hub: the sample says so by its name


def _entries(latest: Snapshot | None, top_n: int) -> tuple[Entry, ...]:
    if latest is not None and latest.entries:
        return latest.top(top_n) or latest.entries[:1]
    return (Entry(rank=1, id=FAKE_MODEL),)


def _entered_model(entry: Entry, previous_rank: int | None = None) -> EnteredModel:
    return EnteredModel(id=entry.id, rank=entry.rank, previous_rank=previous_rank, country=entry.country,
                        country_method=entry.attribution.method, country_via=entry.attribution.via,
                        pipeline_tag=entry.pipeline_tag, likes=entry.likes, downloads=entry.downloads)


def _share(entries: tuple[Entry, ...], top_n: int, taken_at: datetime) -> ShareChange:
    """The top N's most frequent known country, firing above the line just under its share."""
    counts = Counter(entry.country for entry in entries if entry.country != UNKNOWN)
    country, count = counts.most_common(1)[0] if counts else ("US", 0)
    share = 100.0 * count / max(top_n, 1)
    threshold = max(0, int(share) - 1)
    unknown = sum(entry.country == UNKNOWN for entry in entries)
    return ShareChange(taken_at=taken_at, test=True, country=country, state="firing", direction="above",
                       share=round(share, 1), threshold=threshold, top_n=top_n, count=count,
                       rule=f"{country} above {threshold}% (sample)", unknown=unknown)


def _digest(entries: tuple[Entry, ...], top_n: int, taken_at: datetime) -> Digest:
    year, week, _ = taken_at.isocalendar()
    start = (taken_at - timedelta(days=taken_at.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Counter(entry.country for entry in entries)
    return Digest(
        taken_at=taken_at, test=True, week=f"{year}-W{week:02d}", start=start, end=start + timedelta(days=7),
        timezone="UTC", top_n=top_n, snapshots=1,
        newcomers=tuple(DigestNewcomer(id=e.id, country=e.country, best_rank=e.rank, hours_in_top=1.0,
                                       entered_at=taken_at) for e in entries[:3]),
        leaders=(DigestLeader(id=entries[0].id, country=entries[0].country, hours=1.0),),
        countries=tuple(CountryAverage(country=country, average=round(100.0 * count / max(top_n, 1), 1))
                        for country, count in counts.most_common(5)),
    )


def _daily_digest(entries: tuple[Entry, ...], top_n: int, taken_at: datetime) -> DailyDigest:
    """Yesterday (UTC) as the newest snapshot stands: its #1 all day, its top three as newcomers, its shares."""
    start = (taken_at - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Counter(entry.country for entry in entries)
    unknown = counts.get(UNKNOWN, 0)
    return DailyDigest(
        taken_at=taken_at, test=True, day=start.date().isoformat(), start=start, end=start + timedelta(days=1),
        timezone="UTC", top_n=top_n, snapshots=1,
        newcomers=tuple(DigestNewcomer(id=e.id, country=e.country, best_rank=e.rank, hours_in_top=1.0,
                                       entered_at=start) for e in entries[:3]),
        leaders=(DailyLeader(id=entries[0].id, country=entries[0].country, since=start, hours=24.0),),
        countries=tuple(CountryAverage(country=country, average=round(100.0 * count / max(top_n, 1), 1))
                        for country, count in counts.most_common(5)),
        closing=tuple(DailyHold(country=country, count=count) for country, count in counts.most_common(5)),
        closing_unknown=unknown, closing_listed=len(entries),
    )


def sample_event(kind: str, latest: Snapshot | None, top_n: int, now: datetime) -> Event:
    """One test sample of `kind` (one of ALERT_KINDS); `now` stands in when there is no snapshot."""
    entries = _entries(latest, top_n)
    taken_at = latest.taken_at if latest is not None and latest.entries else now
    first, last = entries[0], entries[-1]
    match kind:
        case "entered":
            return Entered(taken_at=taken_at, test=True, top_n=top_n, models=(_entered_model(last),))
        case "new_leader":
            previous = entries[1].id if len(entries) > 1 else None
            return NewLeader(taken_at=taken_at, test=True, id=first.id, country=first.country, previous_id=previous,
                             pipeline_tag=first.pipeline_tag, likes=first.likes, downloads=first.downloads)
        case "share":
            return _share(entries, top_n, taken_at)
        case "digest":
            return _digest(entries, top_n, taken_at)
        case "digest-daily":
            return _daily_digest(entries, top_n, taken_at)
        case "left":
            return Left(taken_at=taken_at, test=True, top_n=top_n, models=(LeftModel(
                id=last.id, rank=None, previous_rank=last.rank, country=last.country,
                country_method=last.attribution.method, country_via=last.attribution.via,
                in_top_since=taken_at - timedelta(days=2), last_in_top=taken_at, pipeline_tag=last.pipeline_tag,
                likes=last.likes, downloads=last.downloads),))
        case "climber":
            return Climber(taken_at=taken_at, test=True, top_n=top_n, climb=5, models=(ClimberModel(
                id=first.id, rank=first.rank, previous_rank=first.rank + 5, country=first.country,
                country_method=first.attribution.method, country_via=first.attribution.via,
                pipeline_tag=first.pipeline_tag, likes=first.likes, downloads=first.downloads),))
        case "watched":
            return Watched(taken_at=taken_at, test=True, id=first.id, rank=first.rank, country=first.country,
                           watch=f"model {first.id}", reason="entered", top_n=top_n, depth=max(top_n, first.rank),
                           likes=first.likes, downloads=first.downloads)
        case "source":
            return SourceHealth(taken_at=taken_at, test=True, state="recovered", failures=3)
    raise ValueError(f"no sample for alert kind {kind!r}; kinds: {', '.join(ALERT_KINDS)}")


def sample_events(kinds: tuple[str, ...], latest: Snapshot | None, top_n: int, now: datetime) -> list[Event]:
    """One sample per kind the channel takes, in the channel's order; kinds this version does not know are skipped."""
    return [sample_event(kind, latest, top_n, now) for kind in kinds if kind in ALERT_KINDS]
