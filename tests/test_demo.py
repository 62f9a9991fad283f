"""The README's main command, end to end: load the sample, summarise, analyse, map."""

from __future__ import annotations

import pytest

from recor.cli import main

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_demo_loads_summarises_analyses_and_maps_and_is_idempotent(registry_url, tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(["--database-url", registry_url, "demo", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "Imported" in first and "segments     added 179" in first
    assert "Route km by département" in first and "45 Loiret" in first
    assert "Route DC-ORLEANS → DC-TOURS" in first and "BRIDGE-ORLEANS-LOIRE" in first
    for name in ("network.html", "coverage.html", "redundancy.html"):
        assert (out / name).stat().st_size > 10_000
        assert str(out / name) in first

    assert main(["--database-url", registry_url, "demo", "--out", str(out)]) == 0
    second = capsys.readouterr().out
    assert "Nothing new" in second and "unchanged 179" in second
    assert "Registry: batch 1 " in second
