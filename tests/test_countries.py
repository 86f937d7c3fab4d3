"""Country attribution in DESIGN.md's order, on the pure `attribute`."""

from __future__ import annotations

from bot.countries import Org, OrgTable, attribute, base_models, flag, shares
from bot.orgs import load_org_table
from bot.snapshot import Attribution
from tests.conftest import snap

TABLE = OrgTable.of([
    Org("Qwen", "Alibaba", "CN", "lab"),
    Org("meta-llama", "Meta", "US", "lab"),
    Org("mistralai", "Mistral AI", "FR", "lab"),
    Org("unsloth", "Unsloth", "base", "reuploader"),
    Org("bartowski", "bartowski", "base", "reuploader"),
])


def test_lab_namespace_decides():
    assert attribute("Qwen/Qwen3-8B", [], TABLE) == Attribution("CN", "namespace", "Qwen")


def test_namespace_lookup_ignores_case():
    assert attribute("qwen/Qwen3-8B", [], TABLE).country == "CN"


def test_region_tag_is_storage_not_origin():
    assert attribute("someone/model", ["region:us"], TABLE) == Attribution()
    assert attribute("Qwen/Qwen3-8B", ["region:us"], TABLE).country == "CN"


def test_reuploader_takes_its_base_models_country():
    tags = ["gguf", "base_model:Qwen/Qwen3-8B", "base_model:quantized:Qwen/Qwen3-8B", "region:us"]
    assert attribute("unsloth/Qwen3-8B-GGUF", tags, TABLE) == Attribution("CN", "base_model", "Qwen/Qwen3-8B")


def test_derivative_of_unknown_namespace_takes_its_base_models_country():
    tags = ["base_model:adapter:mistralai/Mistral-7B-v0.3"]
    assert attribute("jane/mistral-lora", tags, TABLE).country == "FR"


def test_lineage_is_walked_through_known_models():
    known = {"jane/qwen-finetune": ["base_model:finetune:Qwen/Qwen3-8B"]}
    tags = ["base_model:quantized:jane/qwen-finetune"]
    found = attribute("bartowski/qwen-finetune-GGUF", tags, TABLE, known_tags=known)
    assert found == Attribution("CN", "base_model", "Qwen/Qwen3-8B")


def test_lineage_stops_after_a_few_hops_and_on_cycles():
    known = {"a/x": ["base_model:b/x"], "b/x": ["base_model:a/x"]}
    assert attribute("c/x", ["base_model:a/x"], TABLE, known_tags=known) == Attribution()
    chain = {f"u{i}/m": [f"base_model:u{i + 1}/m"] for i in range(10)}
    chain["u9/m"] = ["base_model:Qwen/Qwen3-8B"]
    assert attribute("start/m", ["base_model:u0/m"], TABLE, known_tags=chain, max_hops=3) == Attribution()


def test_merge_takes_the_first_listed_base_that_resolves():
    tags = ["base_model:merge:nobody/thing", "base_model:merge:meta-llama/Llama-3.1-8B",
            "base_model:merge:Qwen/Qwen3-8B"]
    assert attribute("jane/merge", tags, TABLE).country == "US"


def test_override_by_model_id_and_by_namespace_wins():
    overrides = {"Qwen/Qwen3-8B": "SG", "bartowski": "US"}
    assert attribute("Qwen/Qwen3-8B", [], TABLE, overrides) == Attribution("SG", "override", "qwen/qwen3-8b")
    assert attribute("bartowski/x-GGUF", ["base_model:Qwen/Qwen3-8B"], TABLE, overrides).country == "US"


def test_unknown_namespace_without_lineage_is_unknown():
    assert attribute("jane/model", ["transformers"], TABLE) == Attribution()


def test_base_model_tags_parse_every_relation_once():
    tags = ["base_model:Qwen/A", "base_model:quantized:Qwen/A", "base_model:finetune:x/B",
            "base_model:adapter:y/C", "base_model:merge:z/D", "license:mit"]
    assert base_models(tags) == ["Qwen/A", "x/B", "y/C", "z/D"]


def test_shares_count_over_top_n():
    s = snap(["a/1", "b/2", "c/3", "d/4"], countries={"a/1": "CN", "b/2": "CN", "c/3": "US"})
    assert shares(s.entries, 10) == {"CN": 20.0, "US": 10.0, "unknown": 10.0}
    assert shares(s.entries, 2) == {"CN": 100.0}


def test_flags():
    assert flag("CN") == "🇨🇳"
    assert flag("unknown") == "🏳️"


def test_shipped_table_knows_the_big_labs():
    table = load_org_table()
    for namespace, country in [("Qwen", "CN"), ("deepseek-ai", "CN"), ("moonshotai", "CN"), ("zai-org", "CN"),
                               ("tencent", "CN"), ("Wan-AI", "CN"), ("meta-llama", "US"), ("google", "US"),
                               ("mistralai", "FR")]:
        org = table.get(namespace)
        assert org is not None and org.country == country, namespace
    for namespace in ("unsloth", "bartowski", "lmstudio-community", "mlx-community"):
        org = table.get(namespace)
        assert org is not None and org.kind == "reuploader" and org.country == "base", namespace
