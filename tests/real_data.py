"""Registries loaded with real-looking deliveries, for the end-to-end command tests.

Each is a throwaway database (cloned from the session's migrated template) loaded through the
``recor`` command itself: the bundled sample, then either the messy FTTH delivery of the Cher
with its profile, or the fixed GraceTHD demo delivery with its profile.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from recor.cli import main
from tests.conftest import PROJECT_ROOT, _create_database, _url_for

__all__ = ["PROFILES", "SAMPLE_GPKG", "Run", "new_registry", "recor", "suspicious_text"]

SAMPLE_GPKG = PROJECT_ROOT / "gis_data" / "sample" / "recor_sample.gpkg"
PROFILES = PROJECT_ROOT / "gis_data" / "profiles"

#: What must never be printed for a value: NaN, None, pandas' NA.
_SUSPICIOUS = re.compile(r"\b(nan|NaN|None|NaT|<NA>|inf)\b|Traceback")


@dataclass(frozen=True)
class Run:
    """One ``recor`` run: exit code and what it printed."""

    code: int
    out: str
    err: str


def recor(url: str, *argv: str) -> Run:
    """Run ``recor --database-url URL ARGV...`` in this process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--database-url", url, *argv])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


def new_registry(postgis_url: str, suffix: str) -> str:
    """A fresh migrated registry cloned from the session template; dropped by the session."""
    template = psycopg.conninfo.conninfo_to_dict(postgis_url)["dbname"]
    name = f"{template}_{suffix}_{uuid.uuid4().hex[:6]}"
    _create_database(name, template=str(template))
    return _url_for(name)


def suspicious_text(text: str) -> list[str]:
    """Tokens that betray an unknown value printed as a number or a Python object."""
    return sorted({m.group(0) for m in _SUSPICIOUS.finditer(text)})


def sample_gpkg() -> Path:
    """The bundled sample delivery (versioned in gis_data/sample/)."""
    assert SAMPLE_GPKG.exists(), f"bundled sample missing: {SAMPLE_GPKG}"
    return SAMPLE_GPKG
