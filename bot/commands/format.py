"""`/alerts format compact|full|custom`: the look of one subscription's alerts about models, platform-neutral.

Like `bot.commands.channel_settings`: adapters say who asks; this checks admin rights again, checks the
template when it is set (one line naming what is wrong and the known fields), stores it on the subscription
and answers with an ephemeral `Message` that shows an example line in the chosen look.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.commands.caller import Caller, CommandError, echo
from bot.commands.subscriptions import parse_subscription, subscription_of
from bot.delivery.templates import COMPACT, CUSTOM, FIELDS, FULL, STYLES, TemplateError, describe, stored_look
from bot.delivery.wording import render
from bot.domain.destination import DEFAULT_SUBSCRIPTION
from bot.domain.events import Entered, EnteredModel
from bot.domain.messages import Message, line, plain
from store import destinations as dest_store
from store.db import Database

#: The model of the example line in the answer (a real model id, so the line reads as alerts will).
EXAMPLE = EnteredModel(id="Qwen/Qwen3-8B", rank=3, previous_rank=16, country="CN", country_method="namespace",
                       country_via="Qwen", likes=1520, downloads=480_000)


def example_line(stored: str | None, now: datetime) -> str:
    """One model's line of an entry alert in this look, as plain text (what the answer shows)."""
    message = render(Entered(taken_at=now, top_n=10, models=(EXAMPLE,)), stored)
    return plain(message.lines[0])


def parse_style(style: str | None, template: str | None) -> str | None:
    """(style, template) as given → the stored look; a template alone means custom. CommandError if unusable."""
    chosen = (style or "").strip().lower() or (CUSTOM if template else "")
    if chosen not in STYLES:
        raise CommandError(f"Unknown format '{echo(style)}': choose {', '.join(STYLES)}"
                           " (custom takes a template such as {rank}. {country_flag} {id}).")
    if chosen != CUSTOM:
        return None if chosen == FULL else COMPACT
    if not template or not template.strip():
        raise CommandError("custom needs a template, e.g. {rank}. {country_flag} {id} ({likes} likes).")
    try:
        return stored_look(template)
    except TemplateError as exc:
        raise CommandError(f"That template cannot be used: {exc}.") from None


class ChannelFormat:
    def __init__(self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.clock = clock

    async def set_format(self, caller: Caller, style: str | None, template: str | None = None,
                         subscription: str | None = None) -> Message:
        """Set the look (`style` compact|full|custom, `template` for custom); with neither, say the current one."""
        if not caller.is_admin:
            raise CommandError("Changing alert settings needs channel-manager (admin) rights.")
        name = parse_subscription(subscription)
        asked = bool((style or "").strip() or (template or "").strip())
        stored = parse_style(style, template) if asked else None
        async with self.db.transaction() as conn:
            found = await subscription_of(conn, caller, name, self.clock())
            if asked:
                await dest_store.set_template(conn, found.id, stored)
            else:
                stored = found.template
        where = "here" if name == DEFAULT_SUBSCRIPTION else f"in subscription '{echo(name)}'"
        lines = [f"Alerts about models {where} look: {describe(stored)}.",
                 f"Example: {example_line(stored, self.clock())}",
                 "Share, source and digest alerts keep their look. `alerts test` posts a sample here."]
        if not asked:
            fields = " ".join("{" + name + "}" for name in FIELDS)
            lines.append(f"Change it with: alerts format compact|full|custom <template>; template fields: {fields}.")
        return Message(kind="settings", title="Format set" if asked else "Format",
                       lines=tuple(line(text) for text in lines), ephemeral=True)
