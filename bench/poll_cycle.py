"""One poll cycle against the fake Hub: fetch → attribute → detect → stored with its outbox.

Prints the median time of a full cycle and, as the baseline measured in the same
process, the bare fetch through huggingface_hub; their ratio is what our own
work (attribution, detection, the SQLite transaction) costs on top of the fetch.

    python -m bench.poll_cycle
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from bot.hub import HubSource
from tests.fakes.hub import FakeHub, hub_model

ROUNDS = 30
DEPTH = 50
NAMESPACES = ["Qwen", "deepseek-ai", "meta-llama", "google", "mistralai", "unsloth", "bartowski", "jane"]


def models_for(round_number: int) -> list[dict[str, object]]:
    """A list that churns a little every round, with quantized derivatives to attribute."""
    ids = [f"{NAMESPACES[(i + round_number) % len(NAMESPACES)]}/model-{(i * 7 + round_number) % 90}"
           for i in range(DEPTH + 10)]
    unique = list(dict.fromkeys(ids))[:DEPTH]
    return [
        hub_model(model_id, 5000 - 10 * rank, tags=["base_model:quantized:Qwen/Qwen3-8B"]
                  if model_id.startswith(("unsloth", "bartowski")) else [])
        for rank, model_id in enumerate(unique)
    ]


async def main() -> None:
    os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bench-hf-")
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        async with FakeHub() as hub:
            settings = parse_settings({
                "hub": {"endpoint": hub.endpoint, "depth": DEPTH},
                "store": {"path": str(Path(tmp) / "bench.db")},
                "console": {"enabled": False},
                "share_rules": [{"country": "CN", "above": 50}, {"country": "US", "below": 20}],
                "routes": [{"platform": "console", "channel": "stdout"}],
            }, env={})
            app = await Trendwatch.open(settings, Secrets.from_env({}), {})
            bare = HubSource(hub.endpoint, depth=DEPTH)
            fetch_times, cycle_times = [], []
            try:
                await app.acquire_lease()
                for round_number in range(ROUNDS):
                    hub.models = models_for(round_number)
                    started = time.perf_counter()
                    await bare.fetch()
                    fetch_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    result = await app.poll()
                    cycle_times.append(time.perf_counter() - started)
                    assert result.error is None, result.error
            finally:
                await app.close()
    fetch, cycle = statistics.median(fetch_times), statistics.median(cycle_times)
    print(f"poll cycle (depth {DEPTH}, {ROUNDS} rounds, median): {cycle * 1000:.1f} ms")
    print(f"baseline: bare fetch through huggingface_hub:      {fetch * 1000:.1f} ms")
    print(f"ratio cycle / fetch: {cycle / fetch:.2f}x  (our attribution + detection + SQLite transaction"
          f" add {max(cycle - fetch, 0) * 1000:.1f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
