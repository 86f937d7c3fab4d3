"""Which thread, if any, an alert goes to: pure choices, no store and no platform.

A model's alerts form a story: it entered the top N, became #1, climbed, left. Where a subscription threads
(Slack with `threads` on, a Discord forum always), the message that announced a model (`entered`) is its
anchor, and the later chapters reply there instead of each starting anew in the channel.

A grouped follow-up (one `left` or `climber` message per poll lists several models) still goes out as one
message: it replies in a thread only when all its models share that one anchor; otherwise it goes to the
channel (on a forum: a new post). A test sample (`/alerts test`) is never an anchor and never replies in a
thread, so a check of the channel leaves the models' real threads alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.events import Climber, Entered, Event, Left, NewLeader, Watched

THREAD_MODES = ("off", "on", "broadcast")


@dataclass(frozen=True, slots=True)
class Thread:
    """Where delivery asks an adapter to post one alert.

    `anchor`: the platform's handle of the message to reply to (a Slack `ts`, a Discord message id or forum
    post id); None posts a new message (on a forum, a new post). `mode`: the subscription's `threads`
    setting, for a platform that threads some targets alone ('off' there still threads a forum).
    """

    anchor: str | None = None
    mode: str = "on"

    @property
    def broadcast(self) -> bool:
        """A reply also shown in the channel (Slack's `reply_broadcast`)."""
        return self.mode == "broadcast"


def announced(event: Event) -> tuple[str, ...]:
    """The models a message announces, whose later alerts reply to it: an `entered` message's models."""
    if event.test or not isinstance(event, Entered):
        return ()
    return tuple(model.id for model in event.models)


def followed_up(event: Event) -> tuple[str, ...]:
    """The models an alert is a follow-up about (left, became #1, climbed, a watched model): () for any other."""
    if event.test:
        return ()
    match event:
        case Left() | Climber():
            return tuple(model.id for model in event.models)
        case NewLeader() | Watched():
            return (event.id,)
        case _:
            return ()


def threads_apply(mode: str, platform_threads: bool) -> bool:
    """Whether delivery looks for a thread at all: the subscription's setting, or a platform that threads alone."""
    return platform_threads or mode in ("on", "broadcast")


def choose_anchor(models: tuple[str, ...], anchors: dict[str, str]) -> str | None:
    """The one anchor every model of the alert shares, or None: a model without one, or two models apart."""
    if not models:
        return None
    found = {anchors.get(model) for model in models}
    if len(found) != 1:
        return None
    (anchor,) = found
    return anchor


def thread_for(event: Event, mode: str, anchors: dict[str, str]) -> Thread:
    """The thread for one alert given the anchors of its models (those that have one)."""
    return Thread(anchor=choose_anchor(followed_up(event), anchors), mode=mode)


def anchored_by(event: Event, thread: Thread) -> tuple[str, ...]:
    """The models whose anchor becomes the new post an adapter made for this alert.

    An announcement anchors its models. A follow-up that was meant for a thread but had to start a new
    post (the forum post it belonged to is archived, locked or deleted) anchors its models too, so the
    next follow-up finds the living post.
    """
    if (models := announced(event)):
        return models
    if thread.anchor is not None:
        return followed_up(event)
    return ()
