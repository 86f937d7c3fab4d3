"""Events → platform-neutral messages. Pure: wording lives here, not in adapters."""

from __future__ import annotations

from datetime import datetime

from bot.countries import country_name, flag
from bot.events import Entered, EnteredModel, Event, NewLeader, ShareChange, SourceHealth
from bot.messages import Line, Message, Span, line
from bot.snapshot import UNKNOWN

HUB = "https://huggingface.co"


def model_url(model_id: str) -> str:
    return f"{HUB}/{model_id}"


def snapshot_footer(taken_at: datetime) -> str:
    return f"Hub trending snapshot of {taken_at:%Y-%m-%d %H:%M} UTC"


def origin_text(country: str, method: str, via: str | None) -> str:
    """'CN', 'CN via base model Qwen/Qwen3-8B', 'unknown origin'."""
    if country == UNKNOWN:
        return "unknown origin"
    if method == "base_model" and via:
        return f"{country} via base model {via}"
    if method == "override":
        return f"{country} (set in config)"
    return country


def movement_text(previous_rank: int | None) -> str:
    if previous_rank is None:
        return "new in the list"
    return f"climbed from #{previous_rank}"


def _entered_line(model: EnteredModel) -> Line:
    return line(
        f"#{model.rank} {flag(model.country)} ",
        Span(model.id, url=model_url(model.id), bold=True),
        f" — {movement_text(model.previous_rank)};"
        f" {origin_text(model.country, model.country_method, model.country_via)}",
    )


def render_entered(event: Entered) -> Message:
    count = len(event.models)
    title = (
        f"{event.models[0].id} entered the trending top {event.top_n}"
        if count == 1
        else f"{count} models entered the trending top {event.top_n}"
    )
    return Message(
        kind="entered",
        title=title,
        lines=tuple(_entered_line(model) for model in event.models),
        footer=snapshot_footer(event.taken_at),
        timestamp=event.taken_at,
    )


def render_new_leader(event: NewLeader) -> Message:
    took = line(flag(event.country) + " ", Span(event.id, url=model_url(event.id), bold=True), " is now #1")
    if event.previous_id:
        took += line(" (ahead of ", Span(event.previous_id, url=model_url(event.previous_id)), ")")
    return Message(
        kind="new_leader",
        title=f"New #1 on the Hub's trending list: {event.id}",
        lines=(took,),
        footer=snapshot_footer(event.taken_at),
        timestamp=event.taken_at,
        url=model_url(event.id),
    )


def _percent(value: float) -> str:
    return f"{value:g}%"


def render_share(event: ShareChange) -> Message:
    name = country_name(event.country)
    rule = f"{event.direction} {event.threshold}%"
    if event.state == "firing":
        verb = "reached" if event.direction == "above" else "fell to"
        title = f"{flag(event.country)} {name}'s share of the trending top {event.top_n} {verb} {_percent(event.share)}"
        detail = f"{event.count} of the top {event.top_n} models are from {name} (alert: {rule})."
    else:
        title = f"{flag(event.country)} {name}'s share of the top {event.top_n} is back to {_percent(event.share)}"
        detail = f"{event.count} of the top {event.top_n} models are from {name}; the {rule} alert has resolved."
    return Message(
        kind="share",
        title=title,
        lines=(line(detail),),
        footer=snapshot_footer(event.taken_at),
        timestamp=event.taken_at,
    )


def render_source(event: SourceHealth) -> Message:
    if event.state == "failing":
        return Message(
            kind="error",
            title="The Hub's trending list cannot be read",
            lines=(
                line(f"{event.failures} polls in a row failed; last error: {event.error}"),
                line("Alerts resume, and compare with the last good snapshot, once the Hub answers again."),
            ),
            timestamp=event.taken_at,
        )
    return Message(
        kind="info",
        title="The Hub's trending list is readable again",
        lines=(line(f"Recovered after {event.failures} failed polls."),),
        timestamp=event.taken_at,
    )


def render(event: Event) -> Message:
    if isinstance(event, Entered):
        return render_entered(event)
    if isinstance(event, NewLeader):
        return render_new_leader(event)
    if isinstance(event, ShareChange):
        return render_share(event)
    return render_source(event)
