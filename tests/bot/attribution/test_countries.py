"""Country attribution in DESIGN.md's order, on the pure `attribute`."""

from __future__ import annotations

from bot.attribution.countries import Org, OrgTable, attribute, base_models, flag, shares
from bot.attribution.orgs import load_org_table
from bot.domain.snapshot import Attribution
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


# --- issue 9: one derivative rule, the family rule, labels -------------------------------------------

from bot.attribution.countries import Family, FamilyTable, Rules, has_format_suffix  # noqa: E402
from bot.attribution.orgs import load_family_table  # noqa: E402

LABS = OrgTable.of([*TABLE.orgs.values(), Org("nvidia", "NVIDIA", "US", "lab"), Org("google", "Google", "US", "lab"),
                    Org("TinyLlama", "TinyLlama", "SG", "lab")])
FAMILIES = FamilyTable.of([
    Family("Qwen", ("Qwen", "QwQ"), "CN", "Qwen"),
    Family("Gemma", ("Gemma",), "US", "google"),
    Family("Llama", ("Llama",), "US", "meta-llama"),
    Family("Wan", ("Wan",), "CN", "Wan-AI", needs_version=True),
    Family("Phi", ("Phi",), "US", "microsoft", needs_version=True),
    Family("DeepSeek", ("DeepSeek",), "CN", "deepseek-ai"),
])
RULES = Rules(LABS, FAMILIES)
QUANT = ["base_model:Qwen/Qwen3.6-27B", "base_model:quantized:Qwen/Qwen3.6-27B"]
FINETUNE = ["base_model:finetune:Qwen/Qwen3-8B"]


def test_a_labs_quantization_takes_the_base_models_country_whoever_publishes_it():
    assert RULES.attribute("nvidia/Qwen3.6-27B-NVFP4", QUANT) == Attribution("CN", "base_model", "Qwen/Qwen3.6-27B")


def test_a_format_suffix_marks_a_re_upload_even_without_tags():
    assert RULES.attribute("nvidia/Qwen3.6-27B-NVFP4", []) == Attribution("CN", "family", "Qwen")
    assert RULES.attribute("nvidia/Nemotron-Super-49B", []) == Attribution("US", "namespace", "nvidia")


def test_a_labs_re_upload_of_an_unseen_base_stays_with_the_lab():
    assert RULES.attribute("nvidia/Something-FP8", []) == Attribution("US", "namespace", "nvidia")


def test_a_labs_own_fine_tune_stays_the_labs():
    assert RULES.attribute("nvidia/OpenReasoning-7B", FINETUNE) == Attribution("US", "namespace", "nvidia")


def test_anyone_elses_fine_tune_adapter_or_merge_takes_the_base_models_country():
    for relation in ("finetune", "adapter", "merge"):
        tags = [f"base_model:{relation}:google/gemma-4-31B-it"]
        assert RULES.attribute("jane/my-model", tags) == Attribution("US", "base_model", "google/gemma-4-31B-it")


def test_derivatives_base_counts_a_labs_fine_tune_toward_its_base():
    rules = Rules(LABS, FAMILIES, derivatives="base")
    assert rules.attribute("nvidia/OpenReasoning-7B", FINETUNE) == Attribution("CN", "base_model", "Qwen/Qwen3-8B")
    assert rules.attribute("Qwen/Qwen3-8B", []) == Attribution("CN", "namespace", "Qwen")


def test_derivatives_publisher_credits_every_labs_model_to_the_lab():
    rules = Rules(LABS, FAMILIES, derivatives="publisher")
    assert rules.attribute("nvidia/Qwen3.6-27B-NVFP4", QUANT) == Attribution("US", "namespace", "nvidia")
    assert rules.attribute("unsloth/Qwen3-8B-GGUF", []).country == "CN"  # no publisher country: lineage decides


def test_a_re_uploader_without_tags_or_family_is_unknown():
    assert RULES.attribute("unsloth/Mystery-7B-GGUF", []) == Attribution()


def test_format_suffixes():
    for model_id in ("a/Qwen3-8B-GGUF", "a/x-AWQ", "a/x-GPTQ-Int4", "a/x-MLX-4bit", "a/x-FP8", "a/x-NVFP4",
                     "a/x-exl2", "a/x-bnb-4bit", "a/gemma-4-31B-it-NVFP4-turbo", "a/x-Q4_K_M", "a/cmd-w4a4"):
        assert has_format_suffix(model_id), model_id
    for model_id in ("a/GGUF", "a/gguf-tools-demo-explained-long", "a/Qwen3-8B", "a/awq-paper-code-release-x",
                     "a/MLX-Chat"):
        assert not has_format_suffix(model_id), model_id


def test_family_names_match_at_word_starts_and_before_non_letters():
    for model_id, family in [("jane/Qwen3.5-27B-Distilled", "Qwen"), ("x/Huihui-Qwen3.5-abliterated", "Qwen"),
                             ("x/QwQ-32B-ft", "Qwen"), ("x/gemma-4-E4B-it-OBLITERATED", "Gemma"),
                             ("x/Wan2.2-lora", "Wan"), ("x/phi-4-mini-ft", "Phi"), ("x/Llama-3.1-8B-ft", "Llama"),
                             ("x/DeepSeek-R1-Distill-Qwen-7B", "DeepSeek")]:
        found = FAMILIES.find(model_id)
        assert found is not None and found.name == family, model_id


def test_family_words_inside_other_words_or_namespaces_do_not_match():
    """False positives: a lab whose own name contains a family word, and words that merely start like one."""
    for model_id in ("TinyLlama/TinyLlama_v1.1", "llamaindex/vdr-2b-multi-v1", "Qwen-fans/tool", "x/Qwopus3.6-27B",
                     "x/supergemma4-26b", "wanderer/Wanda-7b", "x/wan-ting-portrait", "PhilAI/phil-7b",
                     "x/philosophy-phi", "gemma-lab/own-model-1"):
        assert FAMILIES.find(model_id) is None, model_id
    assert RULES.attribute("TinyLlama/TinyLlama_v1.1", []) == Attribution("SG", "namespace", "TinyLlama")


def test_the_family_rule_never_overrides_a_stronger_decision():
    assert RULES.attribute("google/Qwen-Interop-2B", []) == Attribution("US", "namespace", "google")
    tags = ["base_model:finetune:meta-llama/Llama-3.1-8B"]
    assert RULES.attribute("jane/Qwen-style-llama", tags).method == "base_model"
    labelled = Rules(LABS, FAMILIES, labels={"jane": "FR"})
    assert labelled.attribute("jane/Qwen3-ft", []) == Attribution("FR", "label", "jane")


def test_a_family_decides_a_derivative_whose_base_is_out_of_reach():
    assert RULES.attribute("jane/Qwen3-ft", ["base_model:finetune:bob/unknown"]) == Attribution("CN", "family", "Qwen")


def test_a_label_beats_a_config_override_and_a_model_beats_its_namespace():
    rules = Rules(LABS, FAMILIES, overrides={"jane": "US", "jane/b": "DE"}, labels={"jane": "FR"})
    assert rules.attribute("jane/a", []) == Attribution("FR", "label", "jane")
    assert rules.attribute("jane/b", []) == Attribution("DE", "override", "jane/b")


def test_missing_collects_only_bases_whose_tags_could_change_the_answer():
    missing: list[str] = []
    RULES.attribute("bartowski/x-GGUF", ["base_model:quantized:jane/x", "base_model:Qwen/Qwen3-8B"], {}, missing)
    assert missing == ["jane/x"]  # Qwen/Qwen3-8B is a lab's model: its own tags change nothing


def test_shipped_family_table_finds_the_2025_families():
    families = load_family_table()
    for model_id, country in [("a/Qwen3-8B-ft", "CN"), ("a/GLM-4.5-Air-ft", "CN"), ("a/Kimi-K2-ft", "CN"),
                              ("a/MiniMax-M2-ft", "CN"), ("a/HunyuanVideo-lora", "CN"), ("a/Wan2.1-lora", "CN"),
                              ("a/gemma-3-ft", "US"), ("a/Llama-3-ft", "US"), ("a/FLUX.1-dev-lora", "DE"),
                              ("a/Devstral-ft", "FR"), ("a/LTX-2.3-GGUF", "IL"), ("a/SkyReels-V2", "CN")]:
        found = families.find(model_id)
        assert found is not None and found.country == country, model_id


def test_sourced_spellings_of_their_own_place_a_derivative_by_its_family():
    """`Qwopus` (Jackrong's Qwen fine-tunes) and `SuperGemma` (Gemma 4 derivatives) are spellings listed in the
    shipped families.toml with the model cards that name their base; words that only start alike still do not match."""
    shipped = Rules(load_org_table(), load_family_table())
    assert shipped.attribute("Jackrong/Qwopus3.6-27B-v2-GGUF", []) == Attribution("CN", "family", "Qwen")
    assert shipped.attribute("Jiunsong/supergemma4-26b-uncensored-gguf-v2", []) == Attribution("US", "family", "Gemma")
    assert shipped.families.find("x/Qwenny3-7b") is None
    assert shipped.families.find("x/megagemma4-26b") is None
