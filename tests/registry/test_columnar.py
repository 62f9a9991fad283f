"""Columnar reads of text: values split at the separator, or cut at their lengths when a
value holds the separator itself."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from recor.registry._columnar import Column, columnar_query, decode_columns

VALUES = [
    ["a", "b", "c"],
    ["", None, "x"],
    [None, None, None],
    ["un\x1fdeux", "trois", None],
    ["\x1f", "\x1f\x1f", ""],
    ["é\x1fà", None, "ü"],
    [],
]


@pytest.mark.parametrize("values", VALUES)
def test_text_columns_come_back_exactly(conn: psycopg.Connection, values: list) -> None:
    column = Column("value", sql.SQL("v.value"), "text")
    query = columnar_query(
        [column],
        sql.SQL("FROM unnest(%s::text[]) WITH ORDINALITY AS v(value, position)"),
        sql.SQL("v.position"),
    )
    with conn.cursor(binary=True) as cur:
        cur.execute(query, (values,))
        row = cur.fetchone()
    assert row is not None
    assert decode_columns(row, [column])["value"] == values
