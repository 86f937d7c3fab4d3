"""Generate bot/data/demo_week.jsonl.gz: a synthetic but realistic week of Hub trending lists.

Each line is one hourly snapshot shaped like the answer of
``GET /api/models?sort=trendingScore&limit=50``:

    {"taken_at": "2025-07-21T00:00:00Z", "models": [ ...50 model objects... ]}

The week runs 2025-07-21T00:00Z .. 2025-07-27T23:00Z with a 3-hour Hub outage
(2025-07-23 13:00-15:00 UTC omitted), so 165 lines.  Model ids are real models
that trended in July 2025; scores, likes, downloads and some createdAt times are
invented.  Output is deterministic (``random.Random(2025)``, gzip mtime 0).

Run:  python scripts/make_demo_data.py [output-path]
"""

from __future__ import annotations

import gzip
import json
import math
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 2025
START = datetime(2025, 7, 21, tzinfo=UTC)
HOURS = 7 * 24
OUTAGE = frozenset({61, 62, 63})  # Wed 2025-07-23 13:00, 14:00, 15:00 UTC
LIMIT = 50
TOP = 10
OUT = Path(__file__).resolve().parents[1] / "bot" / "data" / "demo_week.jsonl.gz"

# Namespace -> country, only for the summary (the bot uses bot/data/orgs.toml).
# "base" = re-uploader: the country comes from the base model.
NS_COUNTRY: dict[str, str] = {
    "Qwen": "CN", "moonshotai": "CN", "deepseek-ai": "CN", "tencent": "CN", "Wan-AI": "CN",
    "zai-org": "CN", "baidu": "CN", "internlm": "CN", "ByteDance-Seed": "CN", "Alibaba-NLP": "CN",
    "black-forest-labs": "DE", "tngtech": "DE", "google": "US", "microsoft": "US", "nvidia": "US",
    "meta-llama": "US", "openai": "US", "HuggingFaceTB": "US", "LiquidAI": "US", "mistralai": "FR",
    "kyutai": "FR", "LGAI-EXAONE": "KR", "skt": "KR", "Lightricks": "IL", "ResembleAI": "CA",
    "HiDream-ai": "CN", "stabilityai": "GB",
    "unsloth": "base", "bartowski": "base", "mradermacher": "base", "mlx-community": "base",
    "lmstudio-community": "base", "Kijai": "base",
}  # fmt: skip


@dataclass
class Spec:
    """One model: Hub metadata plus the shape of its trendingScore curve over the week."""

    id: str
    created: str  # ISO time, "Z"
    tags: list[str]
    pipeline: str | None
    library: str | None
    # Curve: for models already out, a * exp(-t / tau) + floor; for releases at hour
    # `release`, a smooth ramp to `peak` over `ramp` hours, then exp decay over `decay` hours.
    a: float = 0.0
    tau: float = 100.0
    floor: float = 0.0
    release: int | None = None
    peak: float = 0.0
    ramp: float = 24.0
    decay: float = 100.0
    bumps: list[tuple[float, float, float]] = field(default_factory=list)  # (centre h, height, width h)
    likes0: int = 0
    downloads0: int = 0
    dl_per_point: float = 20.0  # downloads per hour per trending point
    region: str = "region:us"


def hub_tags(
    library: str | None,
    fmt: str | None,
    arch: str | None,
    pipeline: str | None,
    *,
    extra: tuple[str, ...] = (),
    arxiv: tuple[str, ...] = (),
    bases: tuple[tuple[str, str], ...] = (),
    license_: str = "apache-2.0",
    endpoints: bool = True,
) -> list[str]:
    """Tags in the order the Hub lists them; `bases` are (relation, base id)."""
    tags = [t for t in (library, fmt, arch, pipeline) if t]
    tags += list(extra)
    tags += [f"arxiv:{a}" for a in arxiv]
    tags += [f"base_model:{b}" for _, b in bases]
    tags += [f"base_model:{rel}:{b}" for rel, b in bases]
    tags.append(f"license:{license_}")
    if library == "transformers" and pipeline == "text-generation":
        tags.append("autotrain_compatible")
    if endpoints:
        tags.append("endpoints_compatible")
    return tags


def llm(arch: str, *, arxiv: tuple[str, ...] = (), lic: str = "apache-2.0", mm: bool = False) -> list[str]:
    pipe = "image-text-to-text" if mm else "text-generation"
    return hub_tags(
        "transformers", "safetensors", arch, pipe, extra=("conversational",), arxiv=arxiv, license_=lic
    )


def gguf(arch: str, base: str, *, lic: str = "apache-2.0", extra: tuple[str, ...] = ()) -> list[str]:
    return hub_tags(
        None, "gguf", arch, "text-generation", extra=(*extra, "conversational"), bases=(("quantized", base),),
        license_=lic,
    )  # fmt: skip


def hour_iso(h: float, minute: int = 0, second: int = 0) -> str:
    ts = START + timedelta(hours=h, minutes=minute, seconds=second)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


Q3 = ("2505.09388",)
K2 = ("2507.20534",)
R1 = ("2501.12948",)


def build_specs() -> list[Spec]:
    """The cast. Hours are counted from Monday 2025-07-21T00:00Z."""
    q235i = "Qwen/Qwen3-235B-A22B-Instruct-2507"
    q235t = "Qwen/Qwen3-235B-A22B-Thinking-2507"
    qcoder = "Qwen/Qwen3-Coder-480B-A35B-Instruct"
    kimi = "moonshotai/Kimi-K2-Instruct"
    jan = "Menlo/Jan-nano-128k"
    flux_k = "black-forest-labs/FLUX.1-Kontext-dev"
    s = Spec
    return [
        # --- already trending on Monday ---------------------------------------------------------
        s(
            kimi,
            "2025-07-11T03:26:57.000Z",
            [
                "transformers",
                "safetensors",
                "kimi_k2",
                "text-generation",
                "conversational",
                "custom_code",
                "arxiv:2507.20534",
                "doi:10.57967/hf/5976",
                "license:other",
                "autotrain_compatible",
                "endpoints_compatible",
                "fp8",
            ],
            "text-generation",
            "transformers",
            a=900,
            tau=60,
            floor=520,
            likes0=1710,
            downloads0=98_000,
            dl_per_point=25,
        ),
        s(
            "unsloth/Kimi-K2-Instruct-GGUF",
            "2025-07-14T10:12:40.000Z",
            gguf("deepseek_v3", kimi, lic="other", extra=("unsloth",)),
            "text-generation",
            None,
            a=280,
            tau=45,
            floor=100,
            likes0=142,
            downloads0=61_000,
            dl_per_point=60,
        ),
        s(
            flux_k,
            "2025-05-29T14:07:38.000Z",
            hub_tags(
                "diffusers",
                "safetensors",
                None,
                "image-to-image",
                extra=("image-generation", "flux", "diffusion-single-file", "en"),
                arxiv=("2506.15742",),
                license_="other",
                endpoints=False,
            ),
            "image-to-image",
            "diffusers",
            a=180,
            tau=55,
            floor=100,
            bumps=[(78, 110, 12)],
            likes0=1905,
            downloads0=310_000,
            dl_per_point=70,
        ),
        s(
            "mistralai/Voxtral-Mini-3B-2507",
            "2025-07-14T11:44:09.000Z",
            hub_tags(
                "vllm",
                "safetensors",
                "voxtral",
                "audio-text-to-text",
                extra=("en", "fr", "de", "es", "it", "pt", "nl", "hi"),
                arxiv=("2507.13264",),
            ),
            "audio-text-to-text",
            "vllm",
            a=220,
            tau=45,
            floor=100,
            likes0=420,
            downloads0=80_000,
        ),
        s(
            "google/gemma-3n-E4B-it",
            "2025-06-03T21:49:16.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "gemma3n",
                "image-text-to-text",
                extra=(
                    "automatic-speech-recognition",
                    "automatic-speech-translation",
                    "audio-text-to-text",
                    "video-text-to-text",
                    "conversational",
                ),
                arxiv=("1905.07830", "1905.10044"),
                bases=(("finetune", "google/gemma-3n-E4B"),),
                license_="gemma",
            ),
            "image-text-to-text",
            "transformers",
            a=140,
            tau=90,
            floor=175,
            likes0=640,
            downloads0=190_000,
            dl_per_point=45,
        ),
        s(
            "mistralai/Devstral-Small-2507",
            "2025-07-04T14:23:25.000Z",
            hub_tags(
                "vllm",
                "safetensors",
                "mistral",
                "text-generation",
                extra=("conversational",),
                bases=(("finetune", "mistralai/Mistral-Small-3.1-24B-Instruct-2503"),),
            ),
            "text-generation",
            "vllm",
            a=160,
            tau=45,
            floor=105,
            likes0=268,
            downloads0=43_000,
        ),
        s(
            "HuggingFaceTB/SmolLM3-3B",
            "2025-07-08T08:05:21.000Z",
            [*llm("smollm3"), "en", "fr", "es", "it", "pt", "zh", "ar", "ru"],
            "text-generation",
            "transformers",
            a=170,
            tau=35,
            floor=100,
            likes0=560,
            downloads0=72_000,
        ),
        s(
            "nvidia/OpenReasoning-Nemotron-32B",
            "2025-07-15T22:41:03.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "qwen2",
                "text-generation",
                extra=("nvidia", "code", "math"),
                arxiv=("2504.13941", "2504.01943"),
                bases=(("finetune", "Qwen/Qwen2.5-32B"),),
                license_="cc-by-4.0",
            ),
            "text-generation",
            "transformers",
            a=160,
            tau=45,
            floor=95,
            likes0=95,
            downloads0=14_000,
        ),
        s(
            "LiquidAI/LFM2-1.2B",
            "2025-07-09T15:12:48.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "lfm2",
                "text-generation",
                extra=("liquid", "edge", "conversational", "en", "ar", "zh", "fr", "de", "ja", "ko", "es"),
                license_="other",
            ),
            "text-generation",
            "transformers",
            a=130,
            tau=60,
            floor=100,
            likes0=210,
            downloads0=26_000,
        ),
        s(
            "tencent/Hunyuan-A13B-Instruct",
            "2025-06-26T08:17:30.000Z",
            [
                "transformers",
                "safetensors",
                "hunyuan_v1_moe",
                "text-generation",
                "conversational",
                "custom_code",
                "license:other",
                "autotrain_compatible",
                "endpoints_compatible",
            ],
            "text-generation",
            "transformers",
            a=150,
            tau=55,
            floor=100,
            likes0=720,
            downloads0=52_000,
        ),
        s(
            "ResembleAI/chatterbox",
            "2025-04-24T23:55:12.000Z",
            hub_tags(
                "chatterbox",
                None,
                None,
                "text-to-speech",
                extra=("speech", "tts", "voice-cloning", "en"),
                license_="mit",
                endpoints=False,
            ),
            "text-to-speech",
            "chatterbox",
            a=130,
            tau=60,
            floor=110,
            likes0=1002,
            downloads0=260_000,
            dl_per_point=60,
        ),
        s(
            "LGAI-EXAONE/EXAONE-4.0-32B",
            "2025-07-14T01:02:55.000Z",
            [*llm("exaone4", arxiv=("2507.11407",), lic="other"), "en", "ko", "es"],
            "text-generation",
            "transformers",
            a=120,
            tau=40,
            floor=85,
            likes0=230,
            downloads0=16_000,
        ),
        s(
            "deepseek-ai/DeepSeek-R1-0528",
            "2025-05-28T09:46:42.000Z",
            [
                *hub_tags(
                    "transformers",
                    "safetensors",
                    "deepseek_v3",
                    "text-generation",
                    extra=("conversational", "custom_code"),
                    arxiv=R1,
                    license_="mit",
                    endpoints=False,
                ),
                "fp8",
            ],
            "text-generation",
            "transformers",
            a=30,
            tau=120,
            floor=122,
            likes0=2180,
            downloads0=410_000,
            dl_per_point=80,
        ),
        s(
            "zai-org/GLM-4.1V-9B-Thinking",
            "2025-06-28T14:25:19.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "glm4v",
                "image-text-to-text",
                extra=("reasoning", "conversational", "en", "zh"),
                arxiv=("2507.01006",),
                bases=(("finetune", "zai-org/GLM-4.1V-9B-Base"),),
                license_="mit",
            ),
            "image-text-to-text",
            "transformers",
            a=90,
            tau=60,
            floor=95,
            likes0=610,
            downloads0=88_000,
        ),
        s(
            "baidu/ERNIE-4.5-300B-A47B-PT",
            "2025-06-28T03:08:42.000Z",
            [*llm("ernie4_5_moe"), "ERNIE4.5", "en", "zh"],
            "text-generation",
            "transformers",
            a=70,
            tau=60,
            floor=80,
            likes0=290,
            downloads0=9_800,
        ),
        s(
            "baidu/ERNIE-4.5-21B-A3B-PT",
            "2025-06-28T03:10:05.000Z",
            [*llm("ernie4_5_moe"), "ERNIE4.5", "en", "zh"],
            "text-generation",
            "transformers",
            a=40,
            tau=60,
            floor=70,
            likes0=160,
            downloads0=31_000,
        ),
        s(
            "Wan-AI/Wan2.1-T2V-14B",
            "2025-02-25T07:37:46.000Z",
            hub_tags(
                "diffusers",
                "safetensors",
                None,
                "text-to-video",
                extra=("video generation", "en", "zh"),
                endpoints=False,
            ),
            "text-to-video",
            "diffusers",
            a=10,
            tau=100,
            floor=88,
            likes0=1520,
            downloads0=95_000,
        ),
        s(
            "Kijai/WanVideo_comfy",
            "2025-02-25T17:54:47.000Z",
            [
                "diffusion-single-file",
                "comfyui",
                "base_model:Wan-AI/Wan2.1-T2V-14B",
                "base_model:quantized:Wan-AI/Wan2.1-T2V-14B",
            ],
            None,
            None,
            a=15,
            tau=100,
            floor=96,
            likes0=1170,
            downloads0=2_800_000,
            dl_per_point=400,
        ),
        s(
            "lightx2v/Wan2.1-T2V-14B-StepDistill-CfgDistill",
            "2025-07-11T09:31:02.000Z",
            hub_tags(
                "diffusers",
                "safetensors",
                None,
                "text-to-video",
                extra=("video generation",),
                bases=(("finetune", "Wan-AI/Wan2.1-T2V-14B"),),
                endpoints=False,
            ),
            "text-to-video",
            "diffusers",
            a=40,
            tau=70,
            floor=55,
            likes0=190,
            downloads0=12_000,
        ),
        s(
            "tngtech/DeepSeek-TNG-R1T2-Chimera",
            "2025-07-02T08:19:40.000Z",
            [
                *hub_tags(
                    "transformers",
                    "safetensors",
                    "deepseek_v3",
                    "text-generation",
                    extra=("mergekit", "merge", "conversational", "custom_code"),
                    arxiv=("2506.14794",),
                    bases=(
                        ("merge", "deepseek-ai/DeepSeek-R1-0528"),
                        ("merge", "deepseek-ai/DeepSeek-R1"),
                        ("merge", "deepseek-ai/DeepSeek-V3-0324"),
                    ),
                    license_="mit",
                ),
                "fp8",
            ],
            "text-generation",
            "transformers",
            a=50,
            tau=80,
            floor=62,
            likes0=270,
            downloads0=21_000,
        ),
        s(
            "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
            "2025-06-19T16:48:33.000Z",
            hub_tags(
                "vllm",
                "safetensors",
                "mistral3",
                "image-text-to-text",
                extra=("conversational",),
                bases=(("finetune", "mistralai/Mistral-Small-3.1-24B-Instruct-2503"),),
            ),
            "image-text-to-text",
            "vllm",
            a=30,
            tau=90,
            floor=72,
            likes0=330,
            downloads0=120_000,
        ),
        s(
            "microsoft/Phi-4-mini-flash-reasoning",
            "2025-06-19T20:52:13.000Z",
            [
                "transformers",
                "safetensors",
                "phi4flash",
                "text-generation",
                "nlp",
                "math",
                "conversational",
                "custom_code",
                "arxiv:2507.06607",
                "license:mit",
                "autotrain_compatible",
            ],
            "text-generation",
            "transformers",
            a=60,
            tau=50,
            floor=58,
            likes0=410,
            downloads0=18_000,
        ),
        s(
            "google/medgemma-27b-it",
            "2025-07-02T21:12:44.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "gemma3",
                "image-text-to-text",
                extra=("medical", "radiology", "clinical-reasoning", "conversational"),
                arxiv=("2507.05201",),
                bases=(("finetune", "google/medgemma-27b-pt"),),
                license_="other",
            ),
            "image-text-to-text",
            "transformers",
            a=40,
            tau=60,
            floor=60,
            likes0=220,
            downloads0=15_000,
        ),
        s(
            "unsloth/gemma-3n-E4B-it-GGUF",
            "2025-06-26T17:40:02.000Z",
            hub_tags(
                "transformers",
                "gguf",
                "gemma3n",
                "image-text-to-text",
                extra=("unsloth", "conversational"),
                bases=(("quantized", "google/gemma-3n-E4B-it"),),
                license_="gemma",
            ),
            "image-text-to-text",
            "transformers",
            a=30,
            tau=70,
            floor=62,
            likes0=250,
            downloads0=340_000,
            dl_per_point=300,
        ),
        s(
            "unsloth/Devstral-Small-2507-GGUF",
            "2025-07-10T15:28:51.000Z",
            gguf("mistral", "mistralai/Devstral-Small-2507", extra=("unsloth", "mistral-common")),
            "text-generation",
            "vllm",
            a=40,
            tau=60,
            floor=52,
            likes0=140,
            downloads0=95_000,
            dl_per_point=250,
        ),
        s(
            "kyutai/tts-1.6b-en_fr",
            "2025-07-01T12:15:07.000Z",
            hub_tags(
                "moshi",
                "safetensors",
                None,
                "text-to-speech",
                extra=("en", "fr"),
                arxiv=("2509.08753",),
                license_="cc-by-4.0",
                endpoints=False,
            ),
            "text-to-speech",
            "moshi",
            a=30,
            tau=60,
            floor=52,
            likes0=190,
            downloads0=24_000,
        ),
        s(
            "ByteDance-Seed/Seed-X-PPO-7B",
            "2025-07-17T09:13:27.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "mistral",
                "translation",
                extra=("multilingual", "en", "zh", "fr", "de", "ja", "ko"),
                arxiv=("2507.13618",),
                bases=(("finetune", "ByteDance-Seed/Seed-X-Instruct-7B"),),
                license_="openmdw",
            ),
            "translation",
            "transformers",
            a=50,
            tau=50,
            floor=50,
            likes0=140,
            downloads0=6_500,
        ),
        s(
            "Lightricks/LTX-Video",
            "2024-10-31T12:36:00.000Z",
            hub_tags(
                "diffusers",
                "safetensors",
                None,
                "image-to-video",
                extra=("ltx-video", "text-to-video", "en"),
                arxiv=("2501.00103",),
                license_="other",
                endpoints=False,
            ),
            "image-to-video",
            "diffusers",
            a=25,
            tau=80,
            floor=56,
            bumps=[(90, 190, 15)],
            likes0=1640,
            downloads0=210_000,
        ),
        s(
            "skt/A.X-4.0-Light",
            "2025-07-02T02:28:40.000Z",
            [*llm("qwen2", lic="apache-2.0"), "ko", "en"],
            "text-generation",
            "transformers",
            a=20,
            tau=60,
            floor=45,
            likes0=70,
            downloads0=5_300,
        ),
        s(
            "nvidia/audio-flamingo-3",
            "2025-07-10T05:46:37.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "llava_llama",
                "audio-text-to-text",
                extra=("audio", "reasoning", "en"),
                arxiv=("2507.08128",),
                license_="other",
                endpoints=False,
            ),
            "audio-text-to-text",
            "transformers",
            a=30,
            tau=60,
            floor=47,
            likes0=360,
            downloads0=4_100,
        ),
        s(
            "meta-llama/Llama-3.1-8B-Instruct",
            "2024-07-18T08:56:00.000Z",
            [
                *llm("llama", arxiv=("2204.05149",), lic="llama3.1"),
                "facebook",
                "meta",
                "pytorch",
                "llama-3",
                "base_model:meta-llama/Llama-3.1-8B",
                "base_model:finetune:meta-llama/Llama-3.1-8B",
            ],
            "text-generation",
            "transformers",
            floor=48,
            likes0=4620,
            downloads0=6_900_000,
            dl_per_point=2000,
        ),
        s(
            "openai/whisper-large-v3-turbo",
            "2024-10-01T07:39:28.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "whisper",
                "automatic-speech-recognition",
                extra=("audio", "en", "zh", "de", "es", "ru", "ko", "fr", "ja"),
                arxiv=("2212.04356",),
                bases=(("finetune", "openai/whisper-large-v3"),),
                license_="mit",
            ),
            "automatic-speech-recognition",
            "transformers",
            floor=44,
            likes0=2410,
            downloads0=4_300_000,
            dl_per_point=1800,
        ),
        s(
            "Alibaba-NLP/WebSailor-3B",
            "2025-07-07T06:00:51.000Z",
            [
                *llm("qwen2", arxiv=("2507.02592",)),
                "base_model:Qwen/Qwen2.5-3B-Instruct",
                "base_model:finetune:Qwen/Qwen2.5-3B-Instruct",
            ],
            "text-generation",
            "transformers",
            a=25,
            tau=50,
            floor=40,
            likes0=95,
            downloads0=2_900,
        ),
        # Community fine-tunes / quants: their namespaces are not in orgs.toml.
        s(
            jan,
            "2025-06-16T03:31:47.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "qwen3",
                "text-generation",
                extra=("conversational",),
                arxiv=("2506.22760",),
                bases=(("finetune", "Qwen/Qwen3-4B"),),
            ),
            "text-generation",
            "transformers",
            a=25,
            tau=80,
            floor=52,
            likes0=250,
            downloads0=21_000,
        ),
        s(
            "bartowski/Menlo_Jan-nano-128k-GGUF",
            "2025-06-25T19:02:11.000Z",
            gguf("qwen3", jan),
            "text-generation",
            None,
            a=20,
            tau=80,
            floor=42,
            likes0=45,
            downloads0=17_000,
            dl_per_point=200,
        ),
        s(
            "TheDrummer/Cydonia-24B-v4",
            "2025-07-15T07:41:56.000Z",
            hub_tags(
                "transformers",
                "safetensors",
                "mistral3",
                "text-generation",
                extra=("conversational",),
                bases=(("finetune", "mistralai/Mistral-Small-3.2-24B-Instruct-2506"),),
                license_="other",
            ),
            "text-generation",
            "transformers",
            a=25,
            tau=60,
            floor=40,
            likes0=85,
            downloads0=3_600,
        ),
        s(
            "mradermacher/Cydonia-24B-v4-GGUF",
            "2025-07-16T02:12:08.000Z",
            gguf("mistral3", "TheDrummer/Cydonia-24B-v4", lic="other", extra=("en",)),
            "text-generation",
            "transformers",
            a=10,
            tau=60,
            floor=37,
            likes0=18,
            downloads0=9_400,
            dl_per_point=150,
        ),
        s(
            "fal/Realism-Detailer-Kontext-Dev-LoRA",
            "2025-07-16T18:24:33.000Z",
            hub_tags(
                "diffusers",
                None,
                None,
                "image-to-image",
                extra=("lora", "flux", "kontext", "realism"),
                bases=(("adapter", flux_k),),
                license_="other",
                endpoints=False,
            ),
            "image-to-image",
            "diffusers",
            a=25,
            tau=60,
            floor=42,
            likes0=60,
            downloads0=2_100,
        ),
        # Origin not derivable: namespace not in orgs.toml and no base_model tag.
        s(
            "nari-labs/Dia-1.6B-0626",
            "2025-06-26T04:55:03.000Z",
            hub_tags(
                "safetensors",
                None,
                "dia",
                "text-to-speech",
                extra=("model_hub_mixin", "pytorch_model_hub_mixin", "en"),
                endpoints=False,
            ),
            "text-to-speech",
            None,
            a=15,
            tau=60,
            floor=41,
            likes0=130,
            downloads0=11_000,
        ),
        s(
            "bosonai/higgs-audio-v2-generation-3B-base",
            hour_iso(-70, 14, 2),
            hub_tags(
                "safetensors",
                None,
                "higgs_audio",
                "text-to-speech",
                extra=("en", "zh", "de", "ko"),
                license_="other",
                endpoints=False,
            ),
            "text-to-speech",
            None,
            release=-10,
            peak=355,
            ramp=80,
            decay=200,
            likes0=40,
            downloads0=900,
        ),
        # --- released during the week ------------------------------------------------------------
        s(
            q235i,
            hour_iso(11, 27, 41),
            llm("qwen3_moe", arxiv=Q3),
            "text-generation",
            "transformers",
            release=13,
            peak=1650,
            ramp=22,
            decay=95,
            dl_per_point=30,
        ),
        s(
            q235i + "-FP8",
            hour_iso(11, 54, 6),
            [
                *llm("qwen3_moe", arxiv=Q3)[:-3],
                "base_model:" + q235i,
                "base_model:quantized:" + q235i,
                "license:apache-2.0",
                "autotrain_compatible",
                "endpoints_compatible",
            ],
            "text-generation",
            "transformers",
            release=14,
            peak=300,
            ramp=24,
            decay=60,
            dl_per_point=30,
        ),
        s(
            "unsloth/Qwen3-235B-A22B-Instruct-2507-GGUF",
            hour_iso(17, 8, 19),
            gguf("qwen3_moe", q235i, extra=("unsloth", "qwen3", "qwen")),
            "text-generation",
            "transformers",
            release=18,
            peak=360,
            ramp=26,
            decay=65,
            dl_per_point=90,
        ),
        s(
            "bartowski/Qwen_Qwen3-235B-A22B-Instruct-2507-GGUF",
            hour_iso(26, 41, 0),
            gguf("qwen3_moe", q235i),
            "text-generation",
            None,
            release=28,
            peak=120,
            ramp=20,
            decay=70,
            dl_per_point=80,
        ),
        s(
            qcoder,
            hour_iso(39, 2, 15),
            llm("qwen3_moe", arxiv=Q3),
            "text-generation",
            "transformers",
            release=40,
            peak=2050,
            ramp=30,
            decay=100,
            dl_per_point=22,
        ),
        s(
            qcoder + "-FP8",
            hour_iso(39, 30, 44),
            [
                *llm("qwen3_moe", arxiv=Q3)[:-3],
                "base_model:" + qcoder,
                "base_model:quantized:" + qcoder,
                "license:apache-2.0",
                "autotrain_compatible",
            ],
            "text-generation",
            "transformers",
            release=41,
            peak=260,
            ramp=26,
            decay=55,
            dl_per_point=30,
        ),
        s(
            "unsloth/Qwen3-Coder-480B-A35B-Instruct-GGUF",
            hour_iso(44, 15, 37),
            gguf("qwen3_moe", qcoder, extra=("unsloth", "qwen3", "qwen")),
            "text-generation",
            "transformers",
            release=46,
            peak=400,
            ramp=26,
            decay=38,
            dl_per_point=90,
        ),
        s(
            "mlx-community/Qwen3-Coder-480B-A35B-Instruct-4bit",
            hour_iso(52, 48, 10),
            hub_tags(
                "mlx",
                "safetensors",
                "qwen3_moe",
                "text-generation",
                extra=("conversational",),
                bases=(("quantized", qcoder),),
            ),
            "text-generation",
            "mlx",
            release=54,
            peak=105,
            ramp=20,
            decay=60,
            dl_per_point=10,
        ),
        s(
            "mistralai/Magistral-Small-2507",
            hour_iso(77, 36, 58),
            hub_tags(
                "vllm",
                "safetensors",
                "mistral",
                "text-generation",
                extra=("conversational",),
                arxiv=("2506.10910",),
                bases=(("finetune", "mistralai/Mistral-Small-3.1-24B-Instruct-2503"),),
            ),
            "text-generation",
            "vllm",
            release=79,
            peak=330,
            ramp=18,
            decay=60,
            dl_per_point=20,
        ),
        s(
            "nvidia/Llama-3_3-Nemotron-Super-49B-v1_5",
            hour_iso(83, 5, 12),
            hub_tags(
                "transformers",
                "safetensors",
                "nemotron-nas",
                "text-generation",
                extra=("nvidia", "llama-3", "pytorch", "conversational", "custom_code"),
                arxiv=("2505.00949",),
                bases=(("finetune", "meta-llama/Llama-3.3-70B-Instruct"),),
                license_="other",
            ),
            "text-generation",
            "transformers",
            release=84,
            peak=360,
            ramp=20,
            decay=50,
            dl_per_point=15,
        ),
        s(
            q235t,
            hour_iso(102, 12, 30),
            llm("qwen3_moe", arxiv=Q3),
            "text-generation",
            "transformers",
            release=103,
            peak=1500,
            ramp=26,
            decay=130,
            dl_per_point=25,
        ),
        s(
            q235t + "-FP8",
            hour_iso(102, 40, 9),
            [
                *llm("qwen3_moe", arxiv=Q3)[:-3],
                "base_model:" + q235t,
                "base_model:quantized:" + q235t,
                "license:apache-2.0",
                "autotrain_compatible",
            ],
            "text-generation",
            "transformers",
            release=104,
            peak=250,
            ramp=20,
            decay=90,
            dl_per_point=30,
        ),
        s(
            "unsloth/Qwen3-235B-A22B-Thinking-2507-GGUF",
            hour_iso(109, 50, 3),
            gguf("qwen3_moe", q235t, extra=("unsloth", "qwen3", "qwen")),
            "text-generation",
            "transformers",
            release=111,
            peak=320,
            ramp=24,
            decay=70,
            dl_per_point=90,
        ),
        s(
            "tencent/HunyuanWorld-1",
            hour_iso(116, 20, 48),
            hub_tags(
                "diffusers",
                "safetensors",
                None,
                "image-to-3d",
                extra=("hunyuan3d", "worldmodel", "3d-aigc", "3d-generation", "en", "zh"),
                arxiv=("2507.21809",),
                bases=(("adapter", "black-forest-labs/FLUX.1-dev"),),
                license_="other",
                endpoints=False,
            ),
            "image-to-3d",
            "diffusers",
            release=118,
            peak=520,
            ramp=18,
            decay=90,
            dl_per_point=8,
        ),
        s(
            "internlm/Intern-S1",
            hour_iso(125, 3, 33),
            hub_tags(
                "transformers",
                "safetensors",
                "interns1",
                "image-text-to-text",
                extra=("conversational", "custom_code"),
                arxiv=("2508.15763",),
            ),
            "image-text-to-text",
            "transformers",
            release=127,
            peak=380,
            ramp=24,
            decay=90,
            dl_per_point=10,
        ),
    ]


# Evergreen models that keep the tail of the list filled.
# (id, createdAt, arch, pipeline, library, license, floor)
EVERGREEN: tuple[tuple[str, str, str | None, str, str, str, float], ...] = (
    (
        "Qwen/Qwen3-8B",
        "2025-04-27T03:41:42.000Z",
        "qwen3",
        "text-generation",
        "transformers",
        "apache-2.0",
        39,
    ),
    (
        "Qwen/Qwen3-30B-A3B",
        "2025-04-27T03:43:05.000Z",
        "qwen3_moe",
        "text-generation",
        "transformers",
        "apache-2.0",
        37,
    ),
    (
        "Qwen/Qwen3-Embedding-0.6B",
        "2025-06-03T14:25:32.000Z",
        "qwen3",
        "feature-extraction",
        "sentence-transformers",
        "apache-2.0",
        35,
    ),
    (
        "Qwen/Qwen2.5-VL-7B-Instruct",
        "2025-01-26T09:26:37.000Z",
        "qwen2_5_vl",
        "image-text-to-text",
        "transformers",
        "apache-2.0",
        31,
    ),
    (
        "deepseek-ai/DeepSeek-V3-0324",
        "2025-03-24T09:28:22.000Z",
        "deepseek_v3",
        "text-generation",
        "transformers",
        "mit",
        33,
    ),
    (
        "google/gemma-3-27b-it",
        "2025-03-01T19:10:19.000Z",
        "gemma3",
        "image-text-to-text",
        "transformers",
        "gemma",
        36,
    ),
    (
        "black-forest-labs/FLUX.1-dev",
        "2024-07-31T21:13:44.000Z",
        None,
        "text-to-image",
        "diffusers",
        "other",
        38,
    ),
    (
        "stabilityai/stable-diffusion-3.5-large",
        "2024-10-22T07:29:39.000Z",
        None,
        "text-to-image",
        "diffusers",
        "other",
        24,
    ),
    (
        "mistralai/Mistral-7B-Instruct-v0.3",
        "2024-05-22T09:57:04.000Z",
        "mistral",
        "text-generation",
        "vllm",
        "apache-2.0",
        23,
    ),
    (
        "nvidia/parakeet-tdt-0.6b-v2",
        "2025-04-15T19:31:12.000Z",
        None,
        "automatic-speech-recognition",
        "nemo",
        "cc-by-4.0",
        34,
    ),
    ("HiDream-ai/HiDream-I1-Full", "2025-04-06T14:18:31.000Z", None, "text-to-image", "diffusers", "mit", 27),
    (
        "sentence-transformers/all-MiniLM-L6-v2",
        "2022-03-02T23:29:05.000Z",
        "bert",
        "sentence-similarity",
        "sentence-transformers",
        "apache-2.0",
        21,
    ),
)


def evergreen_specs(rng: random.Random) -> list[Spec]:
    specs = []
    for model_id, created, arch, pipeline, library, lic, floor in EVERGREEN:
        fmt = "safetensors"
        tags = hub_tags(library, fmt, arch, pipeline, license_=lic, endpoints=library != "diffusers")
        specs.append(
            Spec(
                model_id,
                created,
                tags,
                pipeline,
                library,
                a=rng.uniform(2, 6),
                tau=120,
                floor=floor,
                likes0=rng.randint(800, 4000),
                downloads0=rng.randint(300_000, 9_000_000),
                dl_per_point=900,
            )
        )
    return specs


def score_at(spec: Spec, t: int, wobble: tuple[float, float, float]) -> float | None:
    """trendingScore (float) at hour t, or None if the model is not public yet."""
    if spec.release is not None:
        x = t - spec.release
        if x < 0:
            return None
        if x < spec.ramp:
            u = x / spec.ramp
            val = spec.peak * (0.06 + 0.94 * u * u * (3 - 2 * u))
        else:
            val = spec.peak * math.exp(-(x - spec.ramp) / spec.decay)
    else:
        val = spec.a * math.exp(-t / spec.tau) + spec.floor
    for centre, height, width in spec.bumps:
        val += height * math.exp(-0.5 * ((t - centre) / width) ** 2)
    amp, period, phase = wobble
    return val * (1 + amp * math.sin(2 * math.pi * t / period + phase))


def object_id(created: str, rng: random.Random) -> str:
    """24-hex id whose first 8 hex digits are the creation time, like a MongoDB ObjectId."""
    ts = int(datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC).timestamp())
    return f"{ts:08x}" + "".join(rng.choice("0123456789abcdef") for _ in range(16))


def base_ids(tags: list[str]) -> list[str]:
    return [t.split(":", 1)[1] for t in tags if t.startswith("base_model:") and t.count(":") == 1]


def origin(model_id: str, tags_by_id: dict[str, list[str]], depth: int = 0) -> str:
    """Country by the simple rule the bot applies: derivatives take their (first) base's country."""
    tags = tags_by_id.get(model_id)
    bases = base_ids(tags) if tags is not None else []
    if bases and depth < 5:
        return origin(bases[0], tags_by_id, depth + 1)
    country = NS_COUNTRY.get(model_id.split("/", 1)[0], "unknown")
    return "unknown" if country == "base" else country


def generate() -> tuple[list[dict[str, object]], dict[str, list[str]]]:
    rng = random.Random(SEED)
    specs = build_specs()
    oids = {sp.id: object_id(sp.created, rng) for sp in specs}
    wobble = {
        sp.id: (rng.uniform(0.003, 0.008), rng.uniform(36, 72), rng.uniform(0, 2 * math.pi)) for sp in specs
    }
    tail = evergreen_specs(rng)
    oids |= {sp.id: object_id(sp.created, rng) for sp in tail}
    wobble |= {sp.id: (0.0, 48.0, 0.0) for sp in tail}
    specs += tail
    if len({sp.id for sp in specs}) != len(specs):
        raise ValueError("duplicate model id")
    likes = {sp.id: float(sp.likes0) for sp in specs}
    downloads = {sp.id: float(sp.downloads0) for sp in specs}
    tags_by_id = {sp.id: [*sp.tags, sp.region] for sp in specs}
    snapshots: list[dict[str, object]] = []
    for t in range(HOURS):
        scored: list[tuple[int, int, Spec]] = []
        for sp in specs:
            val = score_at(sp, t, wobble[sp.id])
            if val is None:
                continue
            # likes and downloads only grow; roughly proportional to current interest
            likes[sp.id] += val / 55 * rng.uniform(0.6, 1.4)
            downloads[sp.id] += val * sp.dl_per_point * rng.uniform(0.7, 1.3)
            scored.append((round(val), int(likes[sp.id]), sp))
        scored.sort(key=lambda x: (-x[0], -x[1], x[2].id))
        if t in OUTAGE:
            continue
        models: list[dict[str, object]] = []
        for score, n_likes, sp in scored[:LIMIT]:
            obj: dict[str, object] = {
                "_id": oids[sp.id],
                "id": sp.id,
                "likes": n_likes,
                "trendingScore": score,
                "private": False,
                "downloads": int(downloads[sp.id]),
                "tags": tags_by_id[sp.id],
            }
            if sp.pipeline:
                obj["pipeline_tag"] = sp.pipeline
            if sp.library:
                obj["library_name"] = sp.library
            obj["createdAt"] = sp.created
            obj["modelId"] = sp.id
            models.append(obj)
        snapshots.append(
            {"taken_at": (START + timedelta(hours=t)).strftime("%Y-%m-%dT%H:%M:%SZ"), "models": models}
        )
    return snapshots, tags_by_id


def write(snapshots: list[dict[str, object]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for snap in snapshots:
            gz.write((json.dumps(snap, separators=(",", ":")) + "\n").encode())


def top_ids(snap: dict[str, object]) -> list[str]:
    models = snap["models"]
    assert isinstance(models, list)
    return [str(m["id"]) for m in models[:TOP]]


def summary(snapshots: list[dict[str, object]], tags_by_id: dict[str, list[str]]) -> None:
    print(f"{len(snapshots)} snapshots")
    for snap in snapshots:
        if str(snap["taken_at"]).endswith("T12:00:00Z"):
            top = top_ids(snap)
            cn = sum(origin(mid, tags_by_id) == "CN" for mid in top)
            print(f"{str(snap['taken_at'])[:10]} 12:00Z  CN {cn}/{TOP}")
            for rank, mid in enumerate(top, 1):
                print(f"  {rank:2d}. {mid}  [{origin(mid, tags_by_id)}]")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    snapshots, tags_by_id = generate()
    write(snapshots, out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    summary(snapshots, tags_by_id)


if __name__ == "__main__":
    main()
