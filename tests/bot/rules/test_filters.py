"""Channel filters (issue 12): who hears which list, and which entries of an entry message (pure)."""

from __future__ import annotations

from dataclasses import replace

from bot.attribution.countries import OrgTable
from bot.attribution.orgs import load_org_table
from bot.delivery.wording import render
from bot.domain.destination import Destination
from bot.domain.events import (
    DailyDigest,
    Digest,
    Entered,
    EnteredModel,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.snapshot import Attribution, Entry, Snapshot
from bot.rules.filters import ChannelFilter, describe_entries, route_events
from tests.conftest import T0

KINDS = ("entered", "new_leader", "share", "digest", "source", "watched")
PLAIN = Destination(id=1, platform="discord", channel="plain", kinds=KINDS, origin="config", active=True,
                    subscribed_at=T0, since_snapshot=1)
CN_ONLY = replace(PLAIN, id=2, channel="cn")
SPACES_ONLY = replace(PLAIN, id=3, channel="spaces")
CONSOLE = replace(PLAIN, id=4, platform="console", channel="stdout")
FILTERS = {2: ChannelFilter(countries=("CN",)), 3: ChannelFilter(lists=("spaces",))}


def model(model_id: str, rank: int, country: str, **extra: object) -> EnteredModel:
    return EnteredModel.model_validate({"id": model_id, "rank": rank, "country": country, **extra})


ENTERED = Entered(taken_at=T0, top_n=10, models=(model("meta-llama/a", 3, "US"), model("Qwen/b", 5, "CN")))


def routed(event: object, destinations: list[Destination] | None = None) -> dict[int, object]:
    chosen = destinations or [PLAIN, CN_ONLY, SPACES_ONLY, CONSOLE]
    return {dest: variant for variant, ids, _ in route_events([event], chosen, FILTERS, 9, T0)  # type: ignore[list-item]
            for dest in ids}


def test_a_filtered_channel_gets_only_the_entries_that_pass():
    got = routed(ENTERED)
    assert got[1] == ENTERED and got[4] == ENTERED
    assert isinstance(got[2], Entered) and [m.id for m in got[2].models] == ["Qwen/b"]
    assert 3 not in got  # hears the spaces list only


def test_channels_that_see_the_same_alert_share_one_event():
    other_cn = replace(CN_ONLY, id=6, channel="cn2")
    groups = route_events([ENTERED], [PLAIN, CN_ONLY, CONSOLE, other_cn], {**FILTERS, 6: ChannelFilter(
        countries=("CN",))}, 9, T0)
    assert [(len(e.models), ids) for e, ids, _ in groups if isinstance(e, Entered)] == [(2, [1, 4]), (1, [2, 6])]


def test_nothing_is_sent_when_no_entry_passes():
    us_only = ENTERED.model_copy(update={"models": (model("meta-llama/a", 3, "US"),)})
    assert set(routed(us_only)) == {1, 4}


def test_lists_decide_who_hears_a_list_and_the_console_hears_all():
    spaces = ENTERED.model_copy(update={"list": "spaces", "list_kind": "spaces"})
    got = routed(spaces)
    assert set(got) == {3, 4}
    assert 3 in routed(SourceHealth(taken_at=T0, state="failing", failures=3, list="spaces"))


def test_share_alerts_and_digests_are_not_filtered_by_entry_filters():
    share = ShareChange(taken_at=T0, country="US", state="firing", direction="above", share=60, threshold=50,
                        top_n=10, count=6, rule="US:above:50")
    assert set(routed(share)) == {1, 2, 4}
    digest = Digest(taken_at=T0, week="2025-W30", start=T0, end=T0, timezone="UTC", top_n=10, snapshots=0)
    assert set(routed(digest)) == {1, 2, 3, 4}


def test_tasks_authors_and_derivatives():
    flux = model("black-forest-labs/FLUX.2", 1, "DE", pipeline_tag="text-to-image")
    gguf = model("unsloth/Qwen3-8B-GGUF", 2, "CN", pipeline_tag="text-generation", derivative=True)
    qwen = model("Qwen/Qwen3-8B", 3, "CN", pipeline_tag="text-generation")
    event = Entered(taken_at=T0, top_n=10, models=(flux, gguf, qwen))
    cases = {
        ChannelFilter(tasks=("Text-to-Image",)): ["black-forest-labs/FLUX.2"],
        ChannelFilter(authors=("qwen", "unsloth")): ["unsloth/Qwen3-8B-GGUF", "Qwen/Qwen3-8B"],
        ChannelFilter(derivatives=False): ["black-forest-labs/FLUX.2", "Qwen/Qwen3-8B"],
        ChannelFilter(countries=("CN",), derivatives=False): ["Qwen/Qwen3-8B"],
    }
    for channel, expected in cases.items():
        got = route_events([event], [PLAIN], {1: channel}, 9, T0)
        assert [[m.id for m in e.models] for e, _, _ in got if isinstance(e, Entered)] == [expected]


def test_a_new_leader_is_an_entry_for_filters():
    leader = NewLeader(taken_at=T0, id="meta-llama/a", country="US")
    assert set(routed(leader)) == {1, 4}


def test_watches_of_a_channel_go_to_that_channel_config_watches_to_routes_taking_the_kind():
    watched = Watched(taken_at=T0, id="deepseek-ai/x", rank=30, watch="author deepseek-ai", reason="appeared",
                      top_n=10, depth=50)
    no_watch = replace(PLAIN, id=5, kinds=("entered",))
    assert set(routed(watched, [PLAIN, no_watch, CN_ONLY])) == {1, 2}
    scoped = watched.model_copy(update={"scope": 5})
    assert set(routed(scoped, [PLAIN, no_watch, CN_ONLY])) == {5}


def test_an_event_nobody_gets_is_still_recorded_once():
    assert route_events([ENTERED], [], {}, 9, T0) == [(ENTERED, [], [])]


def test_entry_facts_come_from_the_snapshot():
    entries = (Entry(rank=1, id="unsloth/Qwen3-8B-GGUF", pipeline_tag="text-generation",
                     attribution=Attribution("CN", "base_model", "Qwen/Qwen3-8B")),
               Entry(rank=2, id="Qwen/Qwen3-8B", pipeline_tag="text-generation", attribution=Attribution("CN")))
    event = Entered(taken_at=T0, top_n=10,
                    models=(model("unsloth/Qwen3-8B-GGUF", 1, "CN"), model("Qwen/Qwen3-8B", 2, "CN")))
    table: OrgTable = load_org_table()
    described = describe_entries(event, Snapshot(T0, entries), table)
    assert isinstance(described, Entered)
    assert [(m.pipeline_tag, m.derivative) for m in described.models] == [
        ("text-generation", True), ("text-generation", False)]


def test_titles_name_a_non_default_list_and_links_go_to_its_kind():
    spaces = ENTERED.model_copy(update={"list": "spaces", "list_kind": "spaces"})
    message = render(spaces)
    assert message.title == "[spaces] 2 Spaces entered the trending top 10"
    assert message.lines[0][1].url == "https://huggingface.co/spaces/meta-llama/a"
    assert render(ENTERED).title == "2 models entered the trending top 10"


def test_the_daily_digest_goes_to_every_channel_taking_it_whatever_its_entry_filters_or_lists():
    daily = DailyDigest(taken_at=T0, day="2025-07-20", start=T0, end=T0, timezone="UTC", top_n=10, snapshots=0)
    takers = [replace(d, kinds=(*d.kinds, "digest-daily")) for d in (PLAIN, CN_ONLY, SPACES_ONLY)]
    assert set(routed(daily, [*takers, CONSOLE])) == {1, 2, 3}  # CONSOLE here takes KINDS only
    assert routed(daily, [*takers, CONSOLE])[2] is daily
