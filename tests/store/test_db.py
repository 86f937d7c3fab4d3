"""The one rewrite done to statements for PostgreSQL: `?` and `:name` → asyncpg's `$n`, outside quotes and casts."""

from __future__ import annotations

import pytest

from store.db import _ordered, numbered


def test_question_marks_are_numbered_in_order():
    assert numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?)") == (
        "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)", 3)


def test_names_become_numbers_and_a_name_used_twice_is_one_parameter():
    sql, names = numbered("INSERT INTO m (a, b, c) VALUES (:id, :t, :t) ON CONFLICT DO NOTHING")
    assert sql == "INSERT INTO m (a, b, c) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING"
    assert names == ("id", "t")
    assert _ordered(names, {"t": "then", "id": 7, "unused": 0}) == (7, "then")


def test_quoted_text_and_casts_are_left_alone():
    sql = "SELECT '?', 'at 10:00', \"odd?col\", x::text, json_object_agg(a, b)::text FROM t WHERE y = ?"
    assert numbered(sql) == (
        "SELECT '?', 'at 10:00', \"odd?col\", x::text, json_object_agg(a, b)::text FROM t WHERE y = $1", 1)
    assert numbered("SELECT 'it''s ?' WHERE a = :a")[0] == "SELECT 'it''s ?' WHERE a = $1"


def test_a_statement_mixing_both_styles_is_refused():
    with pytest.raises(ValueError, match="mixes"):
        numbered("SELECT 1 WHERE a = ? AND b = :b")
    with pytest.raises(ValueError, match="named parameters"):
        _ordered(2, {"a": 1})
