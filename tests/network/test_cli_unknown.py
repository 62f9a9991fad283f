"""The network commands on a registry with unknown counts, isolated core sites, and the
global options given after the sub-command."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from recor.cli import build_parser, main

pytestmark = pytest.mark.db

ROUTE = ["route", "POP-ORLEANS", "POP-BOURGES"]


def _run(url: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["--database-url", url, *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _no_placeholder(text: str) -> None:
    """Unknown reads "unknown": never NaN, None or pandas' <NA>."""
    words = text.replace(",", " ").replace("(", " ").replace(")", " ").split()
    for placeholder in ("nan", "NaN", "None", "<NA>", "null"):
        assert placeholder not in words, placeholder


def test_a_route_over_unknown_usage_prints_unknown_free_fibres(
    unknown_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _run(unknown_registry_url, [*ROUTE, "--k", "2"], capsys)
    _no_placeholder(text)
    assert "route 1: free fibres unknown on " in text
    assert "SEG-0085" in text.split("route 1: ")[1].splitlines()[0]
    assert "unknown (" in text.splitlines()[-2]
    assert "optical budget assumes:" in text and "splices inside segments" in text


def test_route_json_and_files_keep_unknown_as_null(
    unknown_registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads(_run(unknown_registry_url, [*ROUTE, "--json"], capsys))
    route = payload["routes"][0]
    assert route["min_free_fibres"] is None
    assert {"SEG-0085", "SEG-0086", "SEG-0087"} <= set(route["unknown_free_segments"])
    assert route["optical"]["assumptions"]
    csv, geojson = tmp_path / "routes.csv", tmp_path / "routes.geojson"
    _run(unknown_registry_url, [*ROUTE, "--k", "3", "--out", str(csv)], capsys)
    table = pd.read_csv(csv, keep_default_na=False, dtype=str)
    unknown = table["unknown_free_segments"] != ""
    assert unknown[0] and (table.loc[unknown, "min_free_fibres"] == "").all()
    assert table.loc[~unknown, "min_free_fibres"].str.fullmatch(r"\d+").all()
    _run(unknown_registry_url, [*ROUTE, "--out", str(geojson)], capsys)
    assert gpd.read_file(geojson)["min_free_fibres"].isna().all()
    for text in (csv.read_text(), geojson.read_text()):
        assert "NaN" not in text and "None" not in text and "<NA>" not in text


def test_min_free_leaves_out_unknown_usage_and_says_so(
    unknown_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["route", "POP-ORLEANS", "POP-TOURS", "--min-free", "4", "--json"]
    assert main(["--database-url", unknown_registry_url, *argv]) in (0, 2)
    captured = capsys.readouterr()
    if captured.out:
        payload = json.loads(captured.out)
        assert payload["unknown_free_segments_left_out"]
        left_out = set(payload["unknown_free_segments_left_out"])
        assert all(not set(r["segments"]) & left_out for r in payload["routes"])
        assert all(r["min_free_fibres"] >= 4 for r in payload["routes"])
    else:
        assert "segment(s) of unknown free fibres" in captured.err
    text = _run(
        unknown_registry_url, ["route", "POP-ORLEANS", "POP-BEAUGENCY", "--min-free", "1"], capsys
    )
    assert "--min-free 1: " in text and "were not used: unknown is not enough" in text


def test_diverse_redundancy_and_whatif_print_no_placeholder_on_unknown_counts(
    unknown_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    diverse = _run(unknown_registry_url, ["diverse", "POP-ORLEANS", "POP-BOURGES"], capsys)
    assert "unknown (" in diverse
    _no_placeholder(diverse)
    _no_placeholder(_run(unknown_registry_url, ["redundancy", "--top", "40"], capsys))
    whatif = _run(unknown_registry_url, ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE"], capsys)
    _no_placeholder(whatif)
    assert "fibre-km count known fibres only: unknown fibre count on" in whatif
    payload = json.loads(
        _run(unknown_registry_url, ["whatif", "--circle", "618500,6756400,5000", "--json"], capsys)
    )
    assert payload["unknown_free_km_before"] > payload["unknown_free_km_after"] >= 0


def test_whatif_names_the_isolated_datacentre_first(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both links of the Orléans datacentre cross the Loire bridge: cut the bridge and the
    datacentre has no path left to the other datacentres, though each part keeps one."""
    text = _run(sample_registry_url, ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE"], capsys)
    lines = text.splitlines()
    assert lines[2].startswith("core sites left without a path to the rest of the core: ")
    assert "DC-ORLEANS (" in lines[2]
    payload = json.loads(
        _run(sample_registry_url, ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE", "--json"], capsys)
    )
    assert payload["core_isolated"] == ["DC-ORLEANS"]
    quiet = _run(sample_registry_url, ["whatif", "--segment", "SEG-0001"], capsys)
    assert "core sites left without a path to the rest of the core: none" in quiet


@pytest.mark.parametrize(
    ("argv", "url", "verbose"),
    [
        (["--database-url", "u1", "-v", "route", "A", "B"], "u1", True),
        (["route", "A", "B", "--database-url", "u2", "-v"], "u2", True),
        (["--database-url", "u1", "route", "A", "B", "--database-url", "u2"], "u2", False),
        (["-v", "db", "status"], None, True),
        (["db", "status", "--database-url", "u3"], "u3", False),
        (["map", "network", "-v"], None, True),
    ],
)
def test_global_options_are_accepted_before_and_after_the_sub_command(
    argv: list[str], url: str | None, verbose: bool
) -> None:
    args = build_parser().parse_args(argv)
    assert (args.database_url, args.verbose) == (url, verbose)


def test_database_url_after_the_sub_command_reaches_the_registry(
    sample_registry_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOR_DATABASE_URL", "postgresql://127.0.0.1:1/nowhere")
    argv = ["route", "POP-ORLEANS", "POP-TOURS", "--database-url", sample_registry_url, "-v"]
    assert main(argv) == 0
    assert "POP-ORLEANS > " in capsys.readouterr().out
    assert main(["route", "POP-ORLEANS", "POP-TOURS"]) == 2
    assert "cannot connect to the registry database" in capsys.readouterr().err
