"""`python -m bot keygen`: a new TRENDWATCH_SECRET_KEY; `--rotate` re-seals the stored tokens with the newest key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from store import slack_installations as installs
from store.db import open_database
from store.sealing import Sealer
from tests.support.cli import bot
from tests.support.stores import query, store_of

TOKEN = "xoxb-T1-a-token-nobody-may-read"


async def test_keygen_prints_a_fresh_fernet_key_each_time() -> None:
    first, second = await asyncio.gather(bot("keygen"), bot("keygen"))
    assert first.code == second.code == 0 and first.err == ""
    keys = [first.out.strip(), second.out.strip()]
    assert keys[0] != keys[1] and all(len(key) == 44 for key in keys)
    Sealer.from_value(",".join(keys))  # both are keys Fernet takes


async def test_rotate_reseals_every_row_and_then_the_old_key_can_go(tmp_path: Path, db_path: Path) -> None:
    old, new = (await bot("keygen")).out.strip(), (await bot("keygen")).out.strip()
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db_path}"\n', encoding="utf-8")
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            record = {"team_id": "T1", "user_id": "U1", "bot_token": TOKEN}
            await installs.save_installation(conn, Sealer.from_value(old), "CID", record, datetime.now(UTC))
            await installs.save_bot(conn, Sealer.from_value(old), "CID", record, datetime.now(UTC))
    finally:
        await db.close()
    before = query(db_path, "SELECT sealed FROM slack_bots")

    missing = await bot("keygen", "--rotate", "--config", str(config), env={"TRENDWATCH_SECRET_KEY": ""})
    assert missing.code == 2 and missing.err.strip().endswith("TRENDWATCH_SECRET_KEY is not set: make one with"
                                                              " `python -m bot keygen`")
    lost = await bot("keygen", "--rotate", "--config", str(config), env={"TRENDWATCH_SECRET_KEY": new})
    assert lost.code == 1 and "does not open with any key in TRENDWATCH_SECRET_KEY" in lost.err
    assert "nothing was changed" in lost.err and len(lost.err.strip().splitlines()) == 1
    assert query(db_path, "SELECT sealed FROM slack_bots") == before

    rotated = await bot("keygen", "--rotate", "--config", str(config), env={"TRENDWATCH_SECRET_KEY": f"{new},{old}"})
    assert rotated.code == 0, rotated.err
    assert rotated.out.startswith("re-sealed 2 stored Slack installation row(s)")
    assert query(db_path, "SELECT sealed FROM slack_bots") != before
    db = await open_database(store_of(db_path))
    try:
        found = await installs.find_bot(db.conn, Sealer.from_value(new), "CID", None, "T1")  # the old key is gone
        assert found is not None and found["bot_token"] == TOKEN
    finally:
        await db.close()
