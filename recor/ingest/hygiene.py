"""Cells and columns as read, before mapping: what would be silently corrupted downstream.

Two columns whose names differ only by case (``Name`` and ``name``) would silently replace
one another; a NUL ends a text early in C libraries and PostgreSQL refuses it; other control
characters (an ``ESC`` starting a terminal sequence) reach consoles and reports; an infinite
number cannot be stored. Each is an error naming the feature, the field and the value.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from recor.ingest.findings import Findings

__all__ = ["CONTROL_CHARACTERS", "check_cells", "check_column_names"]

#: Control characters refused in text: C0 except tab, line feed and carriage return; DEL.
#: (C1 is left alone: a Latin-1 table decodes Windows-1252 bytes such as ``€`` there.)
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PROVENANCE = ("_file", "_feature")
#: The same characters as bytes: in UTF-8 they never occur inside a multi-byte character.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def check_column_names(frame: pd.DataFrame, display: str, findings: Findings) -> bool:
    """Refuse columns whose names are equal but for case; False when there are some."""
    seen: dict[str, str] = {}
    clean = True
    for column in frame.columns:
        if column in _PROVENANCE or not isinstance(column, str):
            continue
        other = seen.setdefault(column.lower(), column)
        if other != column:
            findings.add(
                "ATTR-FIELD-DUP",
                f"deux champs ne diffèrent que par la casse (« {other} » et « {column} ») : "
                "l'un remplacerait l'autre ; les renommer",
                file=display,
                field=column,
                value=other,
            )
            clean = False
    return clean


def check_cells(frame: pd.DataFrame, findings: Findings, *, skip: tuple[str, ...] = ()) -> None:
    """Add an error per text cell with a control character and per infinite number.

    ``frame`` carries the provenance columns ``_file`` and ``_feature``. A column is
    searched cell by cell only when its joined text contains a control character, so a
    clean layer costs one search per column.
    """
    for column in frame.columns:
        if column in _PROVENANCE or column in skip:
            continue
        series = frame[column]
        if pd.api.types.is_float_dtype(series):
            values = series.to_numpy(dtype=float, na_value=np.nan)
            infinite = np.isinf(values)
            findings.add_rows(
                frame, infinite, "ATTR-RANGE", "nombre infini : valeur finie attendue",
                field=str(column), values=series.astype(str),
            )  # fmt: skip
            continue
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        if not _has_control(_joined(series)):
            continue
        bad = series.map(lambda v: isinstance(v, str) and bool(CONTROL_CHARACTERS.search(v)))
        shown = series.map(_visible, na_action="ignore")
        findings.add_rows(
            frame, bad.to_numpy(dtype=bool), "ATTR-CONTROL-CHAR",
            "caractère de contrôle (NUL, échappement…) dans le texte : le retirer de la source",
            field=str(column), values=shown,
        )  # fmt: skip


def _joined(series: pd.Series) -> str:
    """Every text of a column in one string (one C-level join; the common, clean case)."""
    values = series.to_numpy(dtype=object)
    try:
        return "\n".join(values)  # a column without missing values: no mask to build
    except TypeError:  # missing values, or not only strings (a column of mixed values)
        pass
    values = values[pd.notna(values)]
    try:
        return "\n".join(values)
    except TypeError:
        return "\n".join(v for v in values if isinstance(v, str))


def _has_control(text: str) -> bool:
    """True when ``text`` holds a control character (a byte-level test, much faster than re)."""
    data = text.encode("utf-8", "surrogatepass")
    return len(data.translate(None, _CONTROL_BYTES)) != len(data)


def _visible(value: object) -> str:
    """The value with control characters written as ``\\xNN`` (safe to print and store)."""
    text = str(value)
    return CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
