"""The attribution floor on real 2026 trending lists (bench/data): a regression fails CI.

The same figures `python -m bench.attribution` prints, from the pure rule (no Hub, no clock).
"""

from __future__ import annotations

import json

from bench.attribution import GOAL_IDS_ONLY, current_rules, measure_before, measure_rules, tagged_lineage
from bench.trending_data import TAGGED, load_snapshots, read_tagged, tagged_records
from bot.attribution.orgs import load_org_table

# The issue's goal with tags is 5%; the tagged replay built from ids alone reaches ~9.3% (its unknowns are
# publishers that no table or name places), so the floor holds what is measured, not the goal.
FLOOR_WITH_TAGS = 9.5


def test_ids_only_unknown_share_stays_under_ten_percent():
    measured = measure_rules(load_snapshots(), current_rules())
    assert measured.entries == 1410
    assert measured.unknown_share < GOAL_IDS_ONLY, measured.unknown_namespaces.most_common(5)
    assert measured.unknown_model_share < 12.0


def test_tags_never_make_attribution_worse_and_hold_their_floor():
    snapshots, rules = load_snapshots(), current_rules()
    tags = tagged_lineage(read_tagged(TAGGED))
    ids_only, tagged = measure_rules(snapshots, rules), measure_rules(snapshots, rules, tags)
    assert tagged.unknown_share <= ids_only.unknown_share
    assert tagged.unknown_share < FLOOR_WITH_TAGS
    assert tagged.methods["base_model"] > 250  # lineage, not the family names, decides the tagged derivatives


def test_the_baseline_is_the_rule_before_issue_9():
    before = measure_before(load_snapshots())
    assert 43.0 < before.unknown_share < 44.0  # the figure the issue reported


def test_the_committed_tagged_replay_is_what_the_builder_makes():
    """No hand edits: bench/data/...-tagged.jsonl is `python -m bench.trending_data`'s output."""
    built = tagged_records(load_snapshots(), load_org_table())
    assert read_tagged(TAGGED) == json.loads(json.dumps(built))
