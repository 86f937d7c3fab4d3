"""An import between two live polls, through the real app: the next poll is compared with the bot's own last
poll (even when the archive recorded a later moment), and the import itself alerts no one."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from bot.archive.importer import import_reading
from bot.archive.reading import read_source
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, alerts, count, open_app, settings_for
from tests.support.archives import git_archive, trending_json


async def test_an_archive_newer_than_the_last_poll_is_never_what_the_next_poll_compares_with(
        fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, db_path), stream)
    try:
        fake_hub.models = ranked(US + CN[:1])  # Qwen/q0 at #11, just below the top 10
        first = await app.poll()
        assert first.snapshot is not None
        # The archive recorded a moment just after that poll: half the top 10 Chinese, US's models gone, Qwen/q0 #15.
        moment = first.snapshot.taken_at.replace(microsecond=0) + timedelta(seconds=1)
        listed = CN[5:] + [f"someone/m{i}" for i in range(9)] + CN[:1]
        rows = [{"model_id": model_id, "rank": rank, "likes": 1, "downloads": 1, "pipeline_tag": "text-generation"}
                for rank, model_id in enumerate(listed, start=1)]
        archive = git_archive(tmp_path / "archive", "trending.json", [(moment, trending_json(rows))])
        report = await import_reading(app.db, app.settings, read_source(archive))
        assert report.snapshots == 1
        await app.deliver()
        assert alerts(stream) == []  # importing raises nothing
        assert await count(app, "outbox") == 0

        fake_hub.models = ranked(US[:9] + CN[:1])
        await app.poll()
        await app.deliver()
        sent = alerts(stream)
        assert [alert["kind"] for alert in sent] == ["entered", "left"]  # not nine US "entries", not a CN share alert
        assert [(model["id"], model["previous_rank"]) for model in sent[0]["models"]] == [("Qwen/q0", 11)]
    finally:
        await app.close()
