"""Message templates (issue 20): checked when set, filled only from plain names, and the wording in each look.

Pure: no store, no platform. The default look is exactly the old rendering (the existing wording tests hold it
too); 'compact' and custom templates change only the per-model lines of alerts about models, and mark the
message compact for the adapters.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.delivery.templates import (
    COMPACT,
    FIELDS,
    MAX_TEMPLATE,
    TemplateError,
    describe,
    fill,
    look_of,
    parse_template,
    stored_look,
)
from bot.delivery.wording import (
    climber_fields,
    entered_fields,
    left_fields,
    new_leader_fields,
    render,
    watched_fields,
)
from bot.domain.events import (
    Climber,
    ClimberModel,
    Entered,
    EnteredModel,
    Left,
    LeftModel,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.messages import Span, plain

NOW = datetime(2025, 7, 28, 12, 0, tzinfo=UTC)
QWEN = EnteredModel(id="Qwen/Qwen3-8B", rank=3, previous_rank=16, country="CN", country_method="namespace",
                    country_via="Qwen", likes=1520, downloads=480_000)
NEWCOMER = EnteredModel(id="org/new_model", rank=7, country="US")
ENTERED = Entered(taken_at=NOW, top_n=10, models=(QWEN, NEWCOMER))
LEFT = Left(taken_at=NOW, top_n=10, models=(
    LeftModel(id="org/m9", rank=13, previous_rank=9, country="CN", in_top_since=NOW.replace(hour=0),
              last_in_top=NOW.replace(hour=6)),
    LeftModel(id="org/gone", rank=None, previous_rank=10, country="unknown", in_top_since=NOW.replace(hour=0),
              last_in_top=NOW.replace(hour=6)),
))
CLIMBER = Climber(taken_at=NOW, top_n=10, climb=3, models=(
    ClimberModel(id="org/m7", rank=3, previous_rank=7, country="US", likes=10),))
LEADER = NewLeader(taken_at=NOW, id="deepseek-ai/DeepSeek-V4", country="CN", previous_id="Qwen/Qwen3-8B")
WATCHED = Watched(taken_at=NOW, id="deepseek-ai/DeepSeek-V4", rank=30, country="CN", watch="author deepseek-ai",
                  reason="appeared", top_n=10, depth=50)


# ---------------------------------------------------------------- checking a template


@pytest.mark.parametrize(("template", "said"), [
    ("{rank}. {likez} {id}", "unknown field {likez}; fields: id, rank, previous_rank"),
    ("{0} {id}", "{0} is not a field: only plain names like {id}"),
    ("{} {id}", "{} names no field"),
    ("{id.__class__}", "{id.__class__} is not a field"),
    ("{id[0]}", "{id[0]} is not a field"),
    ("{id!r}", "{id!r}: conversions and format specs are not supported, write {id}"),
    ("{rank:>5} {id}", "{rank:>5}: conversions and format specs are not supported, write {rank}"),
    ("{rank:{id}} {id}", "conversions and format specs are not supported"),
    ("{id", "unbalanced braces"),
    ("{id}}", "unbalanced braces"),
    ("}{id}", "unbalanced braces"),
    ("#{rank} {country_flag}", "names {id} or {url}, or every line would look the same"),
    ("   ", "a template is empty"),
    ("{id}\n{rank}", "one line of text"),
    ("{id}" + "x" * MAX_TEMPLATE, f"at most {MAX_TEMPLATE} characters"),
])
def test_an_unusable_template_is_one_line_saying_why(template: str, said: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    text = str(caught.value)
    assert said in text and "\n" not in text
    if "field" in said or "braces" in said:
        assert "fields: " + ", ".join(FIELDS) in text


def test_every_known_field_parses_and_braces_are_escaped_by_doubling() -> None:
    template = parse_template(" ".join("{" + name + "}" for name in FIELDS) + " {{literal}}")
    assert [piece.field for piece in template if piece.field] == list(FIELDS)
    values = {name: f"<{name}>" for name in FIELDS}
    assert plain(fill(template, values)).endswith("<top_n> {literal}")


def test_stored_looks_full_is_the_default_and_compact_a_word() -> None:
    assert stored_look("full") is None and stored_look(" Full ") is None
    assert stored_look("compact") == COMPACT and stored_look("COMPACT") == COMPACT
    assert stored_look("{rank}. {id}") == "{rank}. {id}"
    with pytest.raises(TemplateError):
        stored_look("compactt")
    assert describe(None) == "full (the default)" and describe(COMPACT) == "compact"
    assert describe("{rank}. {id}") == "custom: {rank}. {id}"


def test_a_stored_template_that_no_longer_parses_falls_back_to_the_default_look() -> None:
    """Delivery never loses an alert to its look (a hand-edited row, another version's template)."""
    assert look_of("{nope} {id}") == look_of(None)
    assert render(ENTERED, "{nope} {id}") == render(ENTERED)


def test_fill_substitutes_strings_only_and_links_the_id_and_the_url() -> None:
    values = entered_fields(ENTERED, QWEN)
    assert set(values) == set(FIELDS) and all(isinstance(value, str) for value in values.values())
    line = fill(parse_template("{rank}. {id} {url}"), values)
    assert line == (Span("3"), Span(". "), Span("Qwen/Qwen3-8B", url="https://huggingface.co/Qwen/Qwen3-8B", bold=True),
                    Span(" "), Span("https://huggingface.co/Qwen/Qwen3-8B", url="https://huggingface.co/Qwen/Qwen3-8B"))


def test_the_fields_of_each_kind() -> None:
    assert entered_fields(ENTERED, QWEN) | {} == {
        "id": "Qwen/Qwen3-8B", "rank": "3", "previous_rank": "16", "movement": "up from #16", "country": "CN",
        "country_flag": "🇨🇳", "origin": "CN", "likes": "1,520", "downloads": "480,000", "list": "models",
        "url": "https://huggingface.co/Qwen/Qwen3-8B", "kind": "entered", "top_n": "10"}
    new = entered_fields(ENTERED, NEWCOMER)
    assert (new["movement"], new["previous_rank"], new["likes"], new["downloads"]) == ("new", "–", "–", "–")
    stayed, beyond = (left_fields(LEFT, model) for model in LEFT.models)
    assert (stayed["rank"], stayed["previous_rank"], stayed["movement"]) == ("13", "9", "out from #9 after 6 h")
    assert (beyond["rank"], beyond["country"], beyond["kind"]) == ("–", "unknown", "left")
    climbed = climber_fields(CLIMBER, CLIMBER.models[0])
    assert (climbed["movement"], climbed["likes"]) == ("up 4 from #7", "10")
    assert new_leader_fields(LEADER)["movement"] == "new #1" and new_leader_fields(LEADER)["rank"] == "1"
    watched = watched_fields(WATCHED)
    assert (watched["movement"], watched["rank"], watched["top_n"]) == ("appeared", "30", "10")


def test_spaces_link_to_their_own_pages_and_name_their_list() -> None:
    event = ENTERED.model_copy(update={"list": "spaces", "list_kind": "spaces"})
    values = entered_fields(event, QWEN)
    assert values["url"] == "https://huggingface.co/spaces/Qwen/Qwen3-8B" and values["list"] == "spaces"


# ---------------------------------------------------------------- the wording in each look


def test_the_default_look_is_the_alerts_as_they_always_were() -> None:
    for event in (ENTERED, LEFT, CLIMBER, LEADER, WATCHED):
        assert render(event, None) == render(event) and not render(event).compact
        assert render(event, "full") == render(event)


def test_compact_is_one_short_line_per_model_under_the_same_title() -> None:
    full, compact = render(ENTERED), render(ENTERED, COMPACT)
    assert compact.compact and compact.title == full.title
    assert [plain(line) for line in compact.lines] == [
        "#3 🇨🇳 Qwen/Qwen3-8B · up from #16", "#7 🇺🇸 org/new_model · new"]
    assert [plain(line) for line in render(LEFT, COMPACT).lines] == [
        "🇨🇳 org/m9 · out from #9 after 6 h", "🏳️ org/gone · out from #10 after 6 h"]
    assert [plain(line) for line in render(CLIMBER, COMPACT).lines] == ["#3 🇺🇸 org/m7 · up 4 from #7"]
    assert [plain(line) for line in render(LEADER, COMPACT).lines] == ["🇨🇳 deepseek-ai/DeepSeek-V4 · new #1"]
    assert [plain(line) for line in render(WATCHED, COMPACT).lines] == ["#30 🇨🇳 deepseek-ai/DeepSeek-V4 · appeared"]


def test_a_custom_template_shapes_every_model_line_of_every_kind_about_models() -> None:
    template = "{rank}. {country_flag} {id} ({likes} likes, {kind} on {list})"
    assert [plain(line) for line in render(ENTERED, template).lines] == [
        "3. 🇨🇳 Qwen/Qwen3-8B (1,520 likes, entered on models)", "7. 🇺🇸 org/new_model (– likes, entered on models)"]
    assert [plain(line) for line in render(LEFT, template).lines][1] == "–. 🏳️ org/gone (– likes, left on models)"
    for event in (CLIMBER, LEADER, WATCHED):
        message = render(event, template)
        assert message.compact and message.title == render(event).title and len(message.lines) == 1


def test_share_source_and_digest_alerts_keep_their_look() -> None:
    share = ShareChange(taken_at=NOW, country="CN", state="firing", direction="above", share=60, threshold=50,
                        top_n=10, count=6, rule="CN:above:50")
    source = SourceHealth(taken_at=NOW, state="recovered", failures=3)
    for event in (share, source):
        assert render(event, COMPACT) == render(event) and render(event, "{id}") == render(event)


def test_a_test_sample_is_marked_in_every_look() -> None:
    sample = ENTERED.model_copy(update={"test": True})
    message = render(sample, COMPACT)
    assert message.compact and message.title.startswith("Test: ")
    assert plain(message.lines[-1]).startswith("This is a test")


def test_a_churning_poll_stays_one_short_post_in_a_custom_look() -> None:
    many = Left(taken_at=NOW, top_n=30, models=tuple(
        LeftModel(id=f"org/m{n}", rank=None, previous_rank=n, country="US", in_top_since=NOW.replace(hour=0),
                  last_in_top=NOW.replace(hour=6)) for n in range(1, 16)))
    lines = [plain(line) for line in render(many, "{id}").lines]
    assert len(lines) == 11 and lines[-1].startswith("… and 5 more: org/m11, org/m12, org/m13")


def test_markup_in_a_model_id_or_a_template_stays_text_in_the_message() -> None:
    """The message holds plain spans; the adapters escape them (tests/adapters: render tests)."""
    hostile = EnteredModel(id="evil/*x*_<!channel>@everyone", rank=1, country="US")
    event = Entered(taken_at=NOW, top_n=10, models=(hostile,))
    line = render(event, "**{id}** <@&1> [a](b)").lines[0]
    assert plain(line) == "**evil/*x*_<!channel>@everyone** <@&1> [a](b)"
    assert [span.url for span in line if span.url] == ["https://huggingface.co/evil/*x*_<!channel>@everyone"]
