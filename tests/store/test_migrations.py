"""The two migration folders describe one schema: same tables, same columns in the same order, same keys.

A migration added to one folder and not the other (or written differently)
fails here, before any query meets the difference.
"""

from __future__ import annotations

from pathlib import Path

from store.db import migrations, open_database
from tests.support.postgres import PostgresServer

SQLITE_ONLY = {"items_search"}  # fts5 trigram search; PostgreSQL has pg_trgm's index on items instead


async def sqlite_schema(path: Path) -> dict[str, list[tuple[str, bool, bool]]]:
    db = await open_database(path)
    try:
        tables = [str(name) for (name,) in await (await db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")).fetchall()]
        schema = {}
        for table in tables:
            if any(table.startswith(skip) for skip in SQLITE_ONLY):
                continue
            rows = await (await db.conn.execute(
                f"SELECT name, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid")).fetchall()
            schema[table] = [(str(name), bool(notnull) or bool(pk), bool(pk)) for name, notnull, pk in rows]
        return schema
    finally:
        await db.close()


async def postgres_schema(url: str) -> dict[str, list[tuple[str, bool, bool]]]:
    db = await open_database(url)
    try:
        rows = await (await db.conn.execute(
            "SELECT c.table_name, c.column_name, c.is_nullable = 'NO',"
            " EXISTS (SELECT 1 FROM information_schema.key_column_usage k JOIN information_schema.table_constraints t"
            "  ON t.constraint_name = k.constraint_name AND t.table_name = k.table_name"
            "  WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name"
            "  AND k.column_name = c.column_name)"
            " FROM information_schema.columns c WHERE c.table_schema = current_schema()"
            " AND c.table_name != 'schema_version' ORDER BY c.table_name, c.ordinal_position")).fetchall()
    finally:
        await db.close()
    schema: dict[str, list[tuple[str, bool, bool]]] = {}
    for table, column, not_null, pk in rows:
        schema.setdefault(str(table), []).append((str(column), bool(not_null), bool(pk)))
    return schema


async def test_both_dialects_migrate_to_the_same_tables_columns_and_keys(
    tmp_path: Path, postgres_server: PostgresServer
):
    in_sqlite = await sqlite_schema(tmp_path / "t.db")
    in_postgres = await postgres_schema(postgres_server.fresh_url())
    assert sorted(in_sqlite) == sorted(in_postgres)
    for table, columns in in_sqlite.items():
        assert columns == in_postgres[table], table


def test_the_folders_are_numbered_alike():
    """Schema version N is the same schema on both (PostgreSQL's 0002-0006 are placeholders for its 0001)."""
    assert [name for _, name, _ in migrations("postgresql")] == [name for _, name, _ in migrations("sqlite")]
