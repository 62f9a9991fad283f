"""Columnar reads: each column of a query comes back as one binary value, not row by row.

A read of 200,000 segments row by row builds 3.6 million Python objects before pandas
sees them. Here the server aggregates every column of the (ordered) rows into one value,
sent in binary: numbers as the binary form of an array (``array_send``) decoded by numpy
without a Python object per value; line geometries as their WKB concatenated with their
sizes beside (decoded by shapely in one vectorised call); points as two coordinate
arrays; ``jsonb`` as one JSON array parsed by one ``json.loads``; text joined into one
string with the length of each value beside (cheaper for the server than a ``text[]``),
split in one call; dates as one ``date[]``.

The rows' order is carried by their ordinal (``row_number()`` over the requested order),
sent along: every aggregate of one query consumes the same row stream, so the columns stay
aligned, and the ordinal puts them back in order whatever order the stream had.

A query is built by :func:`columnar_query` and its one result row decoded by
:func:`decode_columns`, so that several reads can be sent together (pipeline) and decoded
while the server computes the next.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

__all__ = ["Column", "columnar_query", "decode_columns"]

#: Number kinds and their element type as ``array_send`` writes them (big-endian).
_NUMBERS = {"int8": ">i8", "float8": ">f8", "int4": ">i4", "bool": "?"}

#: How many aggregated values each kind of column sends.
_WIDTH = {"int4_null": 2, "point": 2, "geometry": 2, "text": 2}

#: ``array_send`` header of a one-dimensional array: ndim, has-null flag, element type,
#: length, lower bound (five 32-bit integers).
_HEADER = 20


@dataclass(frozen=True)
class Column:
    """One output column: its name, its SQL expression over the rows, and its kind.

    Kinds: ``int8``, ``float8``, ``int4`` (numbers, never NULL), ``int4_null`` (a nullable
    integer, read as ``Int64``), ``text``, ``date``, ``timestamptz`` (read as
    ``datetime64[us, UTC]``), ``json`` (decoded values), ``object`` (JSON objects, ``{}``
    sent as null and rebuilt), ``point`` and ``geometry`` (shapely objects; never NULL).
    """

    name: str
    expression: sql.Composable
    kind: str


def columnar_query(
    columns: Sequence[Column], rows: sql.Composable, order: sql.Composable
) -> sql.Composed:
    """``SELECT <columns> <rows> ORDER BY <order>``, every column aggregated to one value.

    ``rows`` is the ``FROM ... WHERE ...`` part; the result is one row.
    """
    inner = sql.SQL(", ").join(
        [
            *(
                sql.SQL("{} AS {}").format(_selected(c), sql.Identifier(f"c{i}"))
                for i, c in enumerate(columns)
            ),
            # row_number() ignores the frame; a ROWS frame measured 3-5 % less server time
            # than the default RANGE one on 200,000 rows (PostgreSQL 15)
            sql.SQL("row_number() OVER (ORDER BY {} ROWS UNBOUNDED PRECEDING) AS ordinal").format(
                order
            ),
        ]
    )
    aggregates = sql.SQL(", ").join(
        [
            sql.SQL("count(*)"),
            sql.SQL("array_send(array_agg(ordinal))"),
            *(_aggregate(sql.Identifier(f"c{i}"), c.kind) for i, c in enumerate(columns)),
        ]
    )
    return sql.SQL("SELECT {aggs} FROM (SELECT {inner} {rows} ORDER BY {order}) AS q").format(
        aggs=aggregates, inner=inner, rows=rows, order=order
    )


def decode_columns(row: Sequence[Any], columns: Sequence[Column]) -> dict[str, Any]:
    """The columns of a :func:`columnar_query` result row (fetched in binary), by name.

    Values come back as numpy arrays (numbers, geometries), pandas arrays (nullable
    integers, times) or lists (text, dates, JSON values).
    """
    count = int(row[0])
    ordinal = _numbers(row[1], "int8", count)
    # back in the requested order, whatever order the aggregates saw the rows in
    order = None if np.array_equal(ordinal, np.arange(1, count + 1)) else np.argsort(ordinal)
    out: dict[str, Any] = {}
    at = 2
    for column in columns:
        width = _WIDTH.get(column.kind, 1)
        value = _decode(row[at : at + width], column.kind, count)
        out[column.name] = value if order is None else _take(value, order)
        at += width
    return out


def _selected(column: Column) -> sql.Composable:
    if column.kind == "geometry":
        return sql.SQL("ST_AsBinary({})").format(column.expression)
    return column.expression


def _aggregate(ref: sql.Composable, kind: str) -> sql.Composable:
    if kind in _NUMBERS:
        return sql.SQL("array_send(array_agg({}))").format(ref)
    if kind == "int4_null":
        # NULL elements would break the fixed width: send a mask beside the values
        return sql.SQL(
            "array_send(array_agg(COALESCE({r}, 0))), array_send(array_agg({r} IS NULL))"
        ).format(r=ref)
    if kind == "timestamptz":
        return sql.SQL("array_send(array_agg((extract(epoch FROM {}) * 1000000)::int8))").format(
            ref
        )
    if kind == "object":
        return sql.SQL("json_agg(NULLIF({}, '{{}}'))::text").format(ref)
    if kind == "json":
        return sql.SQL("json_agg({})::text").format(ref)
    if kind == "point":
        return sql.SQL("array_send(array_agg(ST_X({r}))), array_send(array_agg(ST_Y({r})))").format(
            r=ref
        )
    if kind == "geometry":
        return sql.SQL(
            "string_agg({r}, ''::bytea), array_send(array_agg(octet_length({r})))"
        ).format(r=ref)
    if kind == "text":
        # one string, values apart by the unit separator, and the length of each value
        # (-1: NULL): cheaper than a text[]; split at the separator in one C call
        return sql.SQL(
            "string_agg({r}, chr(31)), array_send(array_agg(COALESCE(length({r}), -1)))"
        ).format(r=ref)
    if kind == "date":
        return sql.SQL("array_agg({})").format(ref)
    raise ValueError(f"column kind {kind!r} unknown")


def _decode(fields: Sequence[Any], kind: str, count: int) -> Any:
    value = fields[0]
    if kind in _NUMBERS:
        return _numbers(value, kind, count)
    if kind == "int4_null":
        numbers = _numbers(value, "int4", count).astype(np.int64)
        return pd.arrays.IntegerArray(numbers, _numbers(fields[1], "bool", count))
    if kind == "timestamptz":
        micros = _numbers(value, "int8", count).astype("datetime64[us]")
        return pd.DatetimeIndex(micros).tz_localize(UTC).array
    if kind == "json":
        return json.loads(value) if count else []
    if kind == "object":
        # the many empty objects travel as null; each row gets its own dict back
        return [{} if v is None else v for v in json.loads(value)] if count else []
    if kind == "point":
        return shapely.points(
            _numbers(value, "float8", count), _numbers(fields[1], "float8", count)
        )
    if kind == "geometry":
        return _geometries(value, fields[1], count)
    if kind == "text":
        return _texts(value, fields[1], count)
    return list(value) if value is not None else []


def _geometries(blob: bytes | None, sizes: bytes | None, count: int) -> np.ndarray:
    """Split the concatenated WKB by the sizes sent beside; decode it in one call."""
    if not count or blob is None:
        return np.empty(0, dtype=object)
    ends = np.cumsum(_numbers(sizes, "int4", count), dtype=np.int64)
    if ends[-1] != len(blob):
        raise psycopg.DataError(
            f"{count} geometries: {len(blob)} bytes of WKB, {ends[-1]} expected"
        )
    bounds = ends.tolist()
    parts = np.empty(count, dtype=object)
    parts[:] = [blob[a:b] for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]
    return shapely.from_wkb(parts)


def _texts(joined: str | None, lengths: bytes | None, count: int) -> list[str | None]:
    """The values of a text column: the present ones joined by the unit separator
    (U+001F), the length of each value beside (in characters; -1 for NULL).

    Split at the separator in one call (200,000 values: 10 ms instead of 45 ms of
    slicing); the lengths tell whether a value held the separator itself, and then the
    text is cut at them instead.
    """
    sizes = _numbers(lengths, "int4", count)
    present = sizes >= 0
    wanted = sizes[present]
    text = joined or ""
    parts = text.split(_SEPARATOR) if len(wanted) else []
    got = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    if not np.array_equal(got, wanted):
        parts = _cut(text, wanted)
    if len(wanted) == count:
        return parts
    found = np.empty(len(parts), dtype=object)
    found[:] = parts
    values = np.full(count, None, dtype=object)
    values[present] = found
    return values.tolist()


#: What the server puts between two text values (``chr(31)``).
_SEPARATOR = "\x1f"


def _cut(text: str, sizes: np.ndarray) -> list[str]:
    """Values of these lengths, one separator character between two."""
    ends = np.cumsum(sizes + 1) - 1
    if len(sizes) and ends[-1] != len(text):
        raise psycopg.DataError(f"{len(sizes)} texts: {len(text)} characters, {ends[-1]} expected")
    starts = (ends - sizes).tolist()
    return [text[a:b] for a, b in zip(starts, ends.tolist(), strict=True)]


def _numbers(buffer: bytes | None, kind: str, count: int) -> np.ndarray:
    """A one-dimensional array without NULLs from its binary form: length-prefixed values."""
    element = np.dtype(_NUMBERS[kind])
    if buffer is None:
        return np.empty(0, dtype=element.newbyteorder("="))
    values = np.frombuffer(
        buffer, dtype=np.dtype([("size", ">i4"), ("value", element)]), offset=_HEADER
    )
    if len(values) != count or (values["size"] != element.itemsize).any():
        raise psycopg.DataError(f"column of {kind}: expected {count} values without NULL")
    return values["value"].astype(element.newbyteorder("="))


def _take(value: Any, order: np.ndarray) -> Any:
    if isinstance(value, list):
        return [value[i] for i in order.tolist()]
    return value[order]
