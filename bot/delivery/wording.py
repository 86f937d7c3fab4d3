"""Events → platform-neutral messages. Pure: wording lives here, not in adapters."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.attribution.countries import country_name, flag
from bot.delivery.templates import DEFAULT_LOOK, MISSING, Look, fill, look_of, template_for
from bot.domain.events import (
    Climber,
    ClimberModel,
    DailyDigest,
    Digest,
    Entered,
    EnteredModel,
    Event,
    Left,
    LeftModel,
    ListSection,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.lists import item_url
from bot.domain.messages import Field, Line, Message, Span, line
from bot.domain.outcomes import PollFailure
from bot.domain.shares import Hold, hold_text, unknown_text
from bot.domain.snapshot import DEFAULT_LIST, UNKNOWN

HUB = "https://huggingface.co"


def model_url(model_id: str) -> str:
    return f"{HUB}/{model_id}"


def snapshot_footer(taken_at: datetime) -> str:
    return f"Hub trending snapshot of {taken_at:%Y-%m-%d %H:%M} UTC"


def origin_text(country: str, method: str, via: str | None) -> str:
    """'CN', 'CN via base model Qwen/Qwen3-8B', 'CN via family Qwen', 'unknown origin'."""
    if country == UNKNOWN:
        return "unknown origin"
    if method == "base_model" and via:
        return f"{country} via base model {via}"
    if method == "family" and via:
        return f"{country} via family {via}"
    if method == "override":
        return f"{country} (set in config)"
    if method == "label":
        return f"{country} (operator label)"
    return country


def movement_text(previous_rank: int | None) -> str:
    if previous_rank is None:
        return "new in the list"
    return f"climbed from #{previous_rank}"


_NOUNS = {"models": ("model", "models"), "datasets": ("dataset", "datasets"), "spaces": ("Space", "Spaces")}


def on_list(list_name: str, title: str) -> str:
    """The list's name in a title; the default list's titles stay as they always were."""
    return title if list_name == DEFAULT_LIST else f"[{list_name}] {title}"


def about_snapshot(event: Entered | NewLeader | ShareChange | Watched | Left | Climber, title: str,
                   lines: tuple[Line, ...], url: str | None = None) -> Message:
    """An alert about one snapshot of one list: its title names the list, its footer and time are the snapshot's."""
    return Message(kind=event.kind, title=on_list(event.list, title), lines=lines,
                   footer=snapshot_footer(event.taken_at), timestamp=event.taken_at, url=url)


def _entered_line(model: EnteredModel, kind: str = "models") -> Line:
    return line(
        f"#{model.rank} {flag(model.country)} ",
        Span(model.id, url=item_url(kind, model.id), bold=True),
        f" — {movement_text(model.previous_rank)};"
        f" {origin_text(model.country, model.country_method, model.country_via)}",
    )


def _count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def model_fields(event: Entered | NewLeader | Left | Climber | Watched, model_id: str, *, rank: int | None,
                 previous_rank: int | None, movement: str, country: str, method: str = "unknown",
                 via: str | None = None, likes: int | None = None, downloads: int | None = None,
                 top_n: int | None = None) -> dict[str, str]:
    """One model's template fields (bot/delivery/templates.py FIELDS), every one a string."""
    return {
        "id": model_id,
        "rank": str(rank) if rank is not None else MISSING,
        "previous_rank": str(previous_rank) if previous_rank is not None else MISSING,
        "movement": movement,
        "country": country,
        "country_flag": flag(country),
        "origin": origin_text(country, method, via),
        "likes": _count(likes),
        "downloads": _count(downloads),
        "list": event.list,
        "url": item_url(event.list_kind, model_id),
        "kind": event.kind,
        "top_n": str(top_n) if top_n is not None else MISSING,
    }


def entered_fields(event: Entered, model: EnteredModel) -> dict[str, str]:
    movement = "new" if model.previous_rank is None else f"up from #{model.previous_rank}"
    return model_fields(event, model.id, rank=model.rank, previous_rank=model.previous_rank, movement=movement,
                        country=model.country, method=model.country_method, via=model.country_via,
                        likes=model.likes, downloads=model.downloads, top_n=event.top_n)


def left_fields(event: Left, model: LeftModel) -> dict[str, str]:
    return model_fields(event, model.id, rank=model.rank, previous_rank=model.previous_rank,
                        movement=f"out from #{model.previous_rank} {stay_text(model)}", country=model.country,
                        method=model.country_method, via=model.country_via, likes=model.likes,
                        downloads=model.downloads, top_n=event.top_n)


def climber_fields(event: Climber, model: ClimberModel) -> dict[str, str]:
    return model_fields(event, model.id, rank=model.rank, previous_rank=model.previous_rank,
                        movement=f"up {model.previous_rank - model.rank} from #{model.previous_rank}",
                        country=model.country, method=model.country_method, via=model.country_via,
                        likes=model.likes, downloads=model.downloads, top_n=event.top_n)


def new_leader_fields(event: NewLeader) -> dict[str, str]:
    return model_fields(event, event.id, rank=1, previous_rank=None, movement="new #1", country=event.country,
                        likes=event.likes, downloads=event.downloads)


def watched_fields(event: Watched) -> dict[str, str]:
    movement = "appeared" if event.reason == "appeared" else f"entered the top {event.top_n}"
    return model_fields(event, event.id, rank=event.rank, previous_rank=None, movement=movement,
                        country=event.country, likes=event.likes, downloads=event.downloads, top_n=event.top_n)


def render_entered(event: Entered, look: Look = DEFAULT_LOOK) -> Message:
    count = len(event.models)
    title = (
        f"{event.models[0].id} entered the trending top {event.top_n}"
        if count == 1
        else f"{count} {_NOUNS[event.list_kind][1]} entered the trending top {event.top_n}"
    )
    template = template_for(look, event.kind)
    lines = (tuple(fill(template, entered_fields(event, model)) for model in event.models) if template
             else tuple(_entered_line(model, event.list_kind) for model in event.models))
    return about_snapshot(event, title, lines)


def render_new_leader(event: NewLeader, look: Look = DEFAULT_LOOK) -> Message:
    url = item_url(event.list_kind, event.id)
    title = f"New #1 on the Hub's trending list: {event.id}"
    if template := template_for(look, event.kind):
        return about_snapshot(event, title, (fill(template, new_leader_fields(event)),), url)
    took = line(flag(event.country) + " ", Span(event.id, url=url, bold=True), " is now #1")
    if event.previous_id:
        took += line(" (ahead of ", Span(event.previous_id, url=item_url(event.list_kind, event.previous_id)), ")")
    return about_snapshot(event, title, (took,), url)


#: Most models listed one per line in a `left` or `climber` message; the rest are named in one closing line.
MAX_LISTED = 10


def listed_lines(lines: list[Line], ids: list[str]) -> tuple[Line, ...]:
    """At most MAX_LISTED lines, then '… and 7 more: a, b, c and 4 others' so a churning poll stays one short post."""
    if len(lines) <= MAX_LISTED:
        return tuple(lines)
    rest = ids[MAX_LISTED:]
    named = ", ".join(rest[:3]) + (f" and {len(rest) - 3} others" if len(rest) > 3 else "")
    return (*lines[:MAX_LISTED], line(f"… and {len(rest)} more: {named}"))


def stay_text(model: LeftModel) -> str:
    """'after 3 h 15 min', 'after at least 2.5 days', 'after one poll': how long it had been in the top N."""
    minutes = round(model.hours_in_top * 60)
    if minutes == 0:
        return "after one poll"
    if minutes < 60:
        length = f"{minutes} min"
    elif minutes < 48 * 60:
        length = f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")
    else:
        length = f"{minutes / (24 * 60):.1f} days"
    return f"after {'at least ' if model.at_least else ''}{length}"


def _left_line(model: LeftModel, top_n: int, kind: str) -> Line:
    now = f"now #{model.rank}" if model.rank is not None else "now beyond the fetched list"
    return line(
        f"#{model.previous_rank} → {now} {flag(model.country)} ",
        Span(model.id, url=item_url(kind, model.id), bold=True),
        f" — left the top {top_n} {stay_text(model)} (in it since {model.in_top_since:%a %d %b %H:%M} UTC)",
    )


def render_left(event: Left, look: Look = DEFAULT_LOOK) -> Message:
    count = len(event.models)
    noun = _NOUNS[event.list_kind][1]
    title = (f"{event.models[0].id} left the trending top {event.top_n}" if count == 1
             else f"{count} {noun} left the trending top {event.top_n}")
    template = template_for(look, event.kind)
    lines = ([fill(template, left_fields(event, model)) for model in event.models] if template
             else [_left_line(model, event.top_n, event.list_kind) for model in event.models])
    return about_snapshot(event, title, listed_lines(lines, [m.id for m in event.models]))


def _climber_line(model: ClimberModel, kind: str) -> Line:
    return line(
        f"#{model.previous_rank} → #{model.rank} {flag(model.country)} ",
        Span(model.id, url=item_url(kind, model.id), bold=True),
        f" — up {model.previous_rank - model.rank};"
        f" {origin_text(model.country, model.country_method, model.country_via)}",
    )


def render_climber(event: Climber, look: Look = DEFAULT_LOOK) -> Message:
    count = len(event.models)
    noun = _NOUNS[event.list_kind][1]
    first = event.models[0]
    title = (f"{first.id} climbed to #{first.rank} of the trending top {event.top_n}" if count == 1
             else f"{count} {noun} climbed {event.climb}+ places in the trending top {event.top_n}")
    template = template_for(look, event.kind)
    lines = ([fill(template, climber_fields(event, model)) for model in event.models] if template
             else [_climber_line(model, event.list_kind) for model in event.models])
    return about_snapshot(event, title, listed_lines(lines, [m.id for m in event.models]))


def _percent(value: float) -> str:
    return f"{value:g}%"


def _bound(event: ShareChange) -> str:
    """'at least ' / 'at most ' before a `certain` share: which bound of the possible share decided."""
    if event.basis != "certain":
        return ""
    lower = (event.direction == "above") == (event.state == "firing")
    return "at least " if lower else "at most "


def _basis_note(event: ShareChange) -> str:
    """Which basis decided, when it is not the default: the reader should know what the figure counts."""
    if event.basis == "known":
        known = f"the {event.known} entries" if event.known is not None else "the entries"
        return f", decided on {known} of known origin"
    if event.basis == "certain":
        return ", decided only on what the unknown entries cannot change"
    return ""


def render_share(event: ShareChange) -> Message:
    name = country_name(event.country)
    rule = f"{event.direction} {event.threshold}%"
    of = "the known entries of " if event.basis == "known" else ""
    share = _bound(event) + _percent(event.share)
    counted = f"{event.count} of the top {event.top_n} models are from {name}{unknown_text(event.unknown)}"
    if event.state == "firing":
        verb = "reached" if event.direction == "above" else "fell to"
        title = f"{flag(event.country)} {name}'s share of {of}the trending top {event.top_n} {verb} {share}"
        detail = f"{counted}; alert: {rule}{_basis_note(event)}."
    else:
        title = f"{flag(event.country)} {name}'s share of {of}the top {event.top_n} is back to {share}"
        detail = f"{counted}; the {rule} alert has resolved{_basis_note(event)}."
    return about_snapshot(event, title, (line(detail),))


#: What a failing source means for the people reading the notice, by the reason the poll recorded.
FAILURE_MEANING: dict[PollFailure, str] = {
    PollFailure.RATE_LIMITED: "The Hub is limiting how often the bot may ask; it waits as long as the Hub says.",
    PollFailure.HTTP_5XX: "The Hub itself is failing (server errors); nothing is wrong on this side.",
    PollFailure.HTTP_ERROR: "The Hub refuses the request; check the endpoint and HF_TOKEN.",
    PollFailure.TIMEOUT: "The Hub does not answer in time.",
    PollFailure.UNREACHABLE: "The Hub cannot be reached from the bot's host (network, DNS or proxy).",
    PollFailure.SHORT_LIST: "The Hub answers with fewer entries than the top N; such lists are not stored.",
    PollFailure.BAD_ANSWER: "The Hub's answer has an unexpected shape; it is not stored.",
    PollFailure.STORE: "The Hub answers, but the bot's database cannot store the poll.",
}


def render_source(event: SourceHealth) -> Message:
    if event.state == "failing":
        meaning = (line(FAILURE_MEANING[event.reason]),) if event.reason is not None else ()
        return Message(
            kind="error",
            title=on_list(event.list, "The Hub's trending list cannot be read"),
            lines=(
                line(f"{event.failures} polls in a row failed; last error: {event.error}"),
                *meaning,
                line("Alerts resume, and compare with the last good snapshot, once the Hub answers again."),
            ),
            timestamp=event.taken_at,
        )
    return Message(
        kind="info",
        title=on_list(event.list, "The Hub's trending list is readable again"),
        lines=(line(f"Recovered after {event.failures} failed polls."),),
        timestamp=event.taken_at,
    )


def hours_text(hours: float) -> str:
    """'5 h', '2.5 days': time in the list as a reader thinks of it."""
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} days"


def _change_text(change: float | None) -> str:
    if change is None:
        return ""
    if change == 0:
        return " (=)"
    return f" ({'+' if change > 0 else ''}{change:g} pts)"


def digest_period(event: Digest) -> str:
    """'21 – 27 Jul 2025' on the digest's own calendar."""
    tz = ZoneInfo(event.timezone)
    first, last = event.start.astimezone(tz), event.end.astimezone(tz) - timedelta(days=1)
    return f"{first:%d %b} – {last:%d %b %Y}"


def list_section_field(section: ListSection) -> Field:
    """A non-default list's week, short: who held #1, what entered its top N for the first time."""
    noun = _NOUNS[section.kind][1]
    if section.snapshots == 0:
        return Field(f"[{section.name}] trending {noun}", (line("No snapshot of this list that week."),))
    named = ", ".join(section.newcomers[:5]) + (f" and {len(section.newcomers) - 5} more"
                                                if len(section.newcomers) > 5 else "")
    return Field(f"[{section.name}] trending {noun} (top {section.top_n})", (
        line("#1: " + (", ".join(section.leaders) or "–")),
        line(f"New in the top {section.top_n}: " + (named or "none")),
    ))


def flagged_model(model_id: str, country: str) -> tuple[Span, ...]:
    """A digest's way of naming a model: its country's flag, then its id in bold, linked to its page."""
    return (Span(f"{flag(country)} "), Span(model_id, url=model_url(model_id), bold=True))


def render_digest(event: Digest) -> Message:
    """The weekly digest as text; its chart is attached at send time (`bot.digest.chart.digest_image`)."""
    tz = ZoneInfo(event.timezone)
    top = f"top {event.top_n}"
    period = digest_period(event)

    def when(moment: datetime) -> str:
        return f"{moment.astimezone(tz):%a %d %b %H:%M}"

    if event.snapshots == 0:
        return Message(
            kind="digest",
            title=f"No trending digest for {period} ({event.week})",
            lines=(line("No snapshot of the trending list was stored that week (the bot was not polling,"
                        " or the Hub was unreachable), so there is nothing to sum up."),),
            footer=f"Week {event.week}, {event.timezone}",
            timestamp=event.taken_at,
        )

    fields = []
    if event.leaders:
        fields.append(Field("Held #1", tuple(
            line(*flagged_model(lead.id, lead.country), f" — {hours_text(lead.hours)}") for lead in event.leaders)))
    fields.append(Field(f"New in the {top}", tuple(
        line(f"#{n.best_rank} at best ", *flagged_model(n.id, n.country),
             f" — {hours_text(n.hours_in_top)} in the {top}, entered {when(n.entered_at)}")
        for n in event.newcomers
    ) or (line("No model entered it for the first time."),)))
    if event.climbers:
        fields.append(Field("Biggest climbers", tuple(
            line(*flagged_model(c.id, c.country), f" — #{c.from_rank} → #{c.to_rank}") for c in event.climbers)))
    if event.long_runners:
        fields.append(Field("Longest-running", tuple(
            line(*flagged_model(r.id, r.country),
                 f" — in every snapshot ({hours_text(r.longest_run_hours)})" if r.whole_week
                 else f" — {hours_text(r.longest_run_hours)} in a row, {hours_text(r.hours_in_top)} in all")
            for r in event.long_runners)))
    fields.append(Field(f"Average share of the {top} (change from the week before)", tuple(
        line(f"{flag(c.country)} {country_name(c.country)}: {c.average:g}%{_change_text(c.change)}"
             + ("" if c.country == UNKNOWN else unknown_text(event.unknown_average, "on average")))
        for c in event.countries if c.average > 0 or (c.change or 0) != 0
    )))
    if event.unknown_namespaces:
        fields.append(Field(f"Unknown origin in the {top} (label with `python -m bot label`)", tuple(
            line(f"{flag(UNKNOWN)} {u.namespace} — {u.entries} entr{'y' if u.entries == 1 else 'ies'}"
                 f" ({', '.join(m.split('/', 1)[-1] for m in u.models[:3])})")
            for u in event.unknown_namespaces)))
    for section in event.lists:
        fields.append(list_section_field(section))
    based = [line(f"{event.snapshots} snapshots")]
    based.extend(line(f"{count} of them imported from {archive}") for archive, count in event.archives)
    for gap in event.gaps:
        length = hours_text((gap.end - gap.start).total_seconds() / 3600)
        based.append(line(f"no data {when(gap.start)} – {when(gap.end)} ({length})"))
    fields.append(Field("Built from", tuple(based)))
    return Message(
        kind="digest",
        title=f"Trending digest for {period} ({event.week})",
        fields=tuple(fields),
        footer=f"Week {event.week}, times in {event.timezone}",
        timestamp=event.taken_at,
        url="https://huggingface.co/models?sort=trending",
    )


#: Up to this many stretches at #1 in a day are told one by one; a day with more is summed per model.
DAILY_STRETCHES = 5


def day_hours_text(hours: float) -> str:
    """'45 min', '3 h', '3 h 15 min': time within one day, where a 15-minute poll is worth saying."""
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


def _times_text(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


def render_daily_digest(event: DailyDigest) -> Message:
    """The daily digest as text: who held #1 and when it changed, what entered the top N for the first time,
    who climbed, and each country's share at the day's end and on average (unknown entries said beside)."""
    tz = ZoneInfo(event.timezone)
    top = f"top {event.top_n}"
    day = f"{event.start.astimezone(tz):%a %d %b %Y}"

    def when(moment: datetime) -> str:
        return f"{moment.astimezone(tz):%H:%M}"

    if event.snapshots == 0:
        return Message(
            kind=event.kind,
            title=f"No daily trending digest for {day}",
            lines=(line("No snapshot of the trending list was stored that day (the bot was not polling,"
                        " or the Hub was unreachable), so there is nothing to sum up."),),
            footer=f"Day {event.day}, {event.timezone}",
            timestamp=event.taken_at,
        )

    fields = []
    if event.leaders:
        changes = event.leader_changes
        name = "#1" if changes == 0 else f"#1 (changed {_times_text(changes)})"
        if changes < DAILY_STRETCHES:
            lead_lines = tuple(line(*flagged_model(lead.id, lead.country), f" — from {when(lead.since)},"
                                    f" {day_hours_text(lead.hours)}") for lead in event.leaders)
        else:  # a list flipping all day: each model's time at #1, then who held it at the end
            last = event.leaders[-1]
            lead_lines = (*(line(*flagged_model(lead.id, lead.country), f" — {day_hours_text(lead.hours)} at #1")
                            for lead in event.held),
                          line("At the day's end: ", *flagged_model(last.id, last.country),
                               f", since {when(last.since)}"))
        fields.append(Field(name, lead_lines))
    fields.append(Field(f"New in the {top}", tuple(
        line(f"#{n.best_rank} at best ", *flagged_model(n.id, n.country),
             f" — entered {when(n.entered_at)}, {day_hours_text(n.hours_in_top)} in the {top}")
        for n in event.newcomers
    ) or (line("No model entered it for the first time."),)))
    if event.climbers:
        fields.append(Field("Biggest climbers over the day", tuple(
            line(*flagged_model(c.id, c.country), f" — #{c.from_rank} → #{c.to_rank}") for c in event.climbers)))
    closing = {h.country: h.count for h in event.closing}
    averages = {c.country: c for c in event.countries}
    shown_countries = [h.country for h in event.closing] + [
        c.country for c in event.countries if c.country not in closing and (c.average > 0 or (c.change or 0) != 0)]
    share_lines = []
    for country in shown_countries:
        held = Hold(country, closing.get(country, 0), event.top_n, event.closing_unknown, event.closing_listed)
        average = averages.get(country)
        over_day = "" if average is None else f"; {average.average:g}% on average{_change_text(average.change)}"
        share_lines.append(line(f"{flag(country)} {country_name(country)}: {hold_text(held)}{over_day}"))
    fields.append(Field(f"Share of the {top} at the day's end (average over the day, change from the day before)",
                        tuple(share_lines)))
    based = [line(f"{event.snapshots} snapshot{'s' if event.snapshots != 1 else ''}")]
    based.extend(line(f"{count} of them imported from {archive}") for archive, count in event.archives)
    for gap in event.gaps:
        length = day_hours_text((gap.end - gap.start).total_seconds() / 3600)
        based.append(line(f"no data {when(gap.start)} – {when(gap.end)} ({length})"))
    fields.append(Field("Built from", tuple(based)))
    return Message(
        kind=event.kind,
        title=f"Daily trending digest for {day}",
        fields=tuple(fields),
        footer=f"Day {event.day}, times in {event.timezone}",
        timestamp=event.taken_at,
        url="https://huggingface.co/models?sort=trending",
    )


def render_watched(event: Watched, look: Look = DEFAULT_LOOK) -> Message:
    noun = _NOUNS[event.list_kind][0]
    url = item_url(event.list_kind, event.id)
    if event.reason == "appeared":
        title = f"Watched: {event.id} appeared at #{event.rank} of the trending {_NOUNS[event.list_kind][1]}"
        how = f"first time in the top {event.depth}"
    else:
        title = f"Watched: {event.id} entered the trending top {event.top_n} at #{event.rank}"
        how = f"entered the top {event.top_n}"
    if template := template_for(look, event.kind):
        return about_snapshot(event, title, (fill(template, watched_fields(event)),), url)
    found = line(f"#{event.rank} {flag(event.country)} ", Span(event.id, url=url, bold=True),
                 f" — {noun}, {how}; matched your watch on {event.watch}")
    return about_snapshot(event, title, (found,), url)


TEST_PREFIX = "Test: "
TEST_NOTE = "This is a test of /alerts test; nothing changed on the Hub."


def marked_as_test(message: Message) -> Message:
    """A sample of `/alerts test`: the title says so first, and a last line says nothing really happened,
    so nobody in the channel acts on it (the sample's models and figures are real ones, or plainly fake)."""
    return replace(message, title=TEST_PREFIX + message.title, lines=(*message.lines, line(TEST_NOTE)))


def render(event: Event, template: str | None = None) -> Message:
    """The message of an alert in the look of the subscription it goes to (`template`, as stored: None is the
    default look), marked as a test when it is a sample of `/alerts test`."""
    message = render_kind(event, look_of(template))
    return marked_as_test(message) if event.test else message


def render_kind(event: Event, look: Look = DEFAULT_LOOK) -> Message:
    """Alerts about models take the look (compact: plain lines, see `Message.compact`); share, source and
    digest alerts keep theirs."""
    message = _render_kind(event, look)
    if look.compact and isinstance(event, Entered | NewLeader | Left | Climber | Watched):
        return replace(message, compact=True)
    return message


def _render_kind(event: Event, look: Look) -> Message:
    if isinstance(event, Watched):
        return render_watched(event, look)
    if isinstance(event, Digest):
        return render_digest(event)
    if isinstance(event, DailyDigest):
        return render_daily_digest(event)
    if isinstance(event, Entered):
        return render_entered(event, look)
    if isinstance(event, NewLeader):
        return render_new_leader(event, look)
    if isinstance(event, ShareChange):
        return render_share(event)
    if isinstance(event, Left):
        return render_left(event, look)
    if isinstance(event, Climber):
        return render_climber(event, look)
    return render_source(event)
