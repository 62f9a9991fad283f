"""Fixtures of the export tests: the sample registry, GDAL's ogrinfo, the OFDS schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"export tests cannot run on CI: {what}")
    pytest.skip(what)


@pytest.fixture(scope="session")
def ogrinfo() -> str:
    """Path of GDAL's ``ogrinfo`` (the reference reader of KML and GeoPackage)."""
    found = shutil.which("ogrinfo")
    if found is None:
        _missing("GDAL's ogrinfo is not installed (gdal-bin)")
    return str(found)


def ogr_layers(ogrinfo: str, path: Path) -> dict[str, int]:
    """Layer name → feature count, as GDAL reads ``path`` (fails when GDAL cannot open it)."""
    done = subprocess.run(
        [ogrinfo, "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    layers: dict[str, int] = {}
    name = None
    for line in done.stdout.splitlines():
        if line.startswith("Layer name: "):
            name = line.removeprefix("Layer name: ").strip()
        elif line.startswith("Feature Count: ") and name is not None:
            layers[name] = int(line.removeprefix("Feature Count: "))
    return layers


@pytest.fixture(scope="session")
def ofds_schema() -> dict:
    """The Open Fibre Data Standard network schema (from ../shared/data/ofds)."""
    path = SHARED_DATA / "ofds" / "schema" / "network-schema.json"
    if not path.exists():
        _missing(f"OFDS schema not found at {path}")
    return json.loads(path.read_text("utf-8"))
