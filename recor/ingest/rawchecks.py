"""Checks of raw GeoJSON and GeoPackage files that GDAL would fail on or silently get wrong.

A GeoJSON nested 100,000 deep overflows a parser's stack; a NUL inside a JSON or GeoPackage
text is read by GDAL (C strings) as the end of the text. Both are found before GDAL reads the
file: JSON by a byte scan (:func:`recor.ingest.limits.scan_json`), GeoPackage NULs by one
SQL query per text column (a GeoPackage is an SQLite database).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from recor.ingest.findings import Findings
from recor.ingest.limits import scan_json

__all__ = ["check_geojson", "check_gpkg_text"]

#: Up to this size, a GeoJSON with a NUL is parsed in Python to name the feature and field.
_LOCATE_MAX_BYTES = 64 << 20
_MAX_FINDINGS = 100


def check_geojson(path: Path, display: str, findings: Findings, max_depth: int) -> bool:
    """False (with findings) when the file is nested too deep or has NULs in its texts."""
    scan = scan_json(path, max_depth)
    if scan.too_deep_at is not None:
        findings.add(
            "SRC-TOO-DEEP",
            f"JSON imbriqué sur plus de {max_depth} niveaux (octet {scan.too_deep_at}) : "
            "non lu (RECOR_IMPORTS_MAX_JSON_DEPTH)",
            file=display,
            field="octet",
            value=scan.too_deep_at,
        )
        return False
    if not scan.nul_at:
        return True
    located = (
        _locate_nuls(path, display, findings) if path.stat().st_size <= _LOCATE_MAX_BYTES else 0
    )
    if not located:
        for offset in scan.nul_at[:_MAX_FINDINGS]:
            findings.add(
                "ATTR-CONTROL-CHAR",
                f"caractère NUL dans un texte (octet {offset}) : le texte serait tronqué",
                file=display,
                field="octet",
                value=offset,
            )
    return False


def _locate_nuls(path: Path, display: str, findings: Findings) -> int:
    """Findings naming feature and property for each NUL; how many were found."""
    try:
        with path.open("rb") as handle:
            document = json.loads(handle.read())
    except (ValueError, RecursionError):
        return 0
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        return 0
    found = 0
    for index, feature in enumerate(features):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            continue
        for key, value in properties.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if "\x00" in text or "\x00" in key:
                findings.add(
                    "ATTR-CONTROL-CHAR",
                    "caractère NUL dans le texte : il serait tronqué à cet endroit",
                    file=display,
                    feature=index,
                    field=key.replace("\x00", "\\0"),
                    value=text.replace("\x00", "\\0"),
                )
                found += 1
                if found >= _MAX_FINDINGS:
                    return found
    return found


def check_gpkg_text(path: Path, layer: str | None, display: str, findings: Findings) -> bool:
    """False (with findings) when a text cell of the GeoPackage layer contains a NUL."""
    if layer is None:
        return True
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as db:
            columns = db.execute(f"PRAGMA table_info({_quote(layer)})").fetchall()
            texts = [c[1] for c in columns if "TEXT" in str(c[2]).upper() or not c[2]]
            keys = [c[1] for c in columns if c[5]] or ["rowid"]
            found = 0
            for column in texts:
                rows = db.execute(
                    f"SELECT n, v FROM (SELECT row_number() OVER (ORDER BY {_quote(keys[0])}) - 1"
                    f" AS n, {_quote(column)} AS v FROM {_quote(layer)})"
                    " WHERE instr(CAST(v AS BLOB), x'00') > 0 LIMIT ?",
                    (_MAX_FINDINGS,),
                ).fetchall()
                for feature, value in rows:
                    text = (
                        bytes(value).decode("utf-8", errors="replace")
                        if isinstance(value, bytes)
                        else str(value)
                    )
                    findings.add(
                        "ATTR-CONTROL-CHAR",
                        "caractère NUL dans le texte : il serait tronqué à cet endroit",
                        file=display,
                        feature=int(feature),
                        field=column,
                        value=text.replace("\x00", "\\0"),
                    )
                found += len(rows)
    except sqlite3.Error:
        return True  # not readable as SQLite: GDAL's own error will say so
    return found == 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
