"""Mapping profiles (built-in and user YAML), findings, HTML/CSV reports."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from recor.errors import ConfigurationError
from recor.ingest.diffmap import CHANGE_COLOURS, diff_map_svg
from recor.ingest.findings import FINDING_COLUMNS
from recor.ingest.pipeline import prepare_import
from recor.ingest.profiles import builtin_profiles, load_profile
from recor.ingest.report import render_html, write_csv
from recor.ingest.rules import RULES
from recor.ingest.sources import detect_encoding
from tests.ingest.ingest_builders import segment_frame, site_frame


def test_builtin_profiles_load() -> None:
    assert {"recor", "gracethd-v2"} <= set(builtin_profiles())
    recor = load_profile("recor")
    assert recor.layer_for("segments", "line").entity == "segments"
    assert load_profile("gracethd-v2").format == "gracethd-v2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nlayers:\n  pipes: {}\n", "unknown entity"),
        ("name: x\nlayers:\n  segments:\n    fields:\n      colour: {}\n", "not a registry field"),
        ("name: x\nlayers:\n  segments:\n    fields:\n      code: {form: [a]}\n", "unknown keys"),
        ("layers: {}\n", "'name'"),
    ],
)
def test_malformed_profile_says_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_profile(path)


def test_user_profile_maps_fields_values_and_defaults(tmp_path: Path) -> None:
    profile = tmp_path / "prestataire.yaml"
    profile.write_text(
        """
name: prestataire
source: presta-2026
layers:
  sites:
    match: [noeuds]
    geometry: point
    fields:
      code: {from: [id_noeud], required: true}
      name: {from: [libelle]}
      kind: {from: [type], values: {CH: chamber, NRO: pop}, default: other}
  segments:
    match: [troncons]
    geometry: line
    fields:
      code: {from: [id_troncon]}
      site_a: {from: [noeud_a]}
      site_b: {from: [noeud_b]}
      fibre_count: {from: [nb_fo]}
      status: {from: [etat], values: {E: in_service, P: planned}}
""",
        encoding="utf-8",
    )
    sites = (
        site_frame().rename(columns={"code": "id_noeud", "name": "libelle"}).drop(columns="kind")
    )
    sites["type"] = ["NRO", "CH", "??"]
    segments = segment_frame().rename(
        columns={"code": "id_troncon", "site_a": "noeud_a", "site_b": "noeud_b", "fibres": "nb_fo"}
    )
    segments["etat"] = ["E", "P"]
    segments = segments.drop(columns=["status", "source"])
    path = tmp_path / "livraison.gpkg"
    pyogrio.write_dataframe(sites, path, layer="noeuds")
    pyogrio.write_dataframe(segments, path, layer="troncons")
    prepared = prepare_import([path], profile=profile)
    bad = prepared.findings[prepared.findings["rule"] == "ATTR-ENUM"]
    assert list(bad["value"]) == ["??"] and bad.iloc[0]["field"] == "kind"
    segs = prepared.delivery.segments.set_index("code")
    assert list(segs["status"]) == ["in_service", "planned"]
    assert set(segs["source"]) == {"presta-2026"}
    assert segs.loc["T-1", "extra"]["fibres_use"] == 12


def test_html_report_is_french_grouped_and_escaped() -> None:
    findings = pd.DataFrame(
        [
            [
                "error",
                "ATTR-RANGE",
                "a.shp",
                3,
                "<b>X</b>",
                "fibres",
                "-1",
                "nombre de fibres négatif",
                "",
            ]
        ],
        columns=list(FINDING_COLUMNS),
    )
    page = render_html(findings, title="Rapport d'import", verdict="Livraison refusée")
    assert RULES["ATTR-RANGE"].title_fr in page and "Erreur" in page
    assert "<b>X</b>" not in page and "&lt;b&gt;X&lt;/b&gt;" in page


def test_csv_report_has_one_row_per_finding(tmp_path: Path) -> None:
    prepared = prepare_import([tmp_path / "absent.shp"])
    path = write_csv(tmp_path / "r.csv", prepared.findings)
    table = pd.read_csv(path, sep=";", encoding="utf-8-sig")
    assert list(table.columns) == list(FINDING_COLUMNS)
    assert "SRC-NOT-FOUND" in set(table["rule"]) and len(table) == len(prepared.findings)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Orléans".encode(), "UTF-8"),
        ("Orléans œuvre".encode("cp1252"), "cp1252"),
        (b"caf\xe9 \x81", "latin-1"),
    ],
)
def test_encoding_detection(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"code;name\n1;" + data + b"\n")
    assert detect_encoding(path) == (expected, True)


def test_refusal_error_names_file_feature_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    pyogrio.write_dataframe(site_frame(), path, layer="sites")
    pyogrio.write_dataframe(segment_frame(fibres_use=[99, 0]), path, layer="segments")
    prepared = prepare_import([path])
    message = str(prepared.refusal())
    assert "s.gpkg!segments entité 0 (code=T-1), champ fibres_used" in message
    assert "nothing was written" in message


def test_diff_map_draws_segments_by_outcome() -> None:
    svg = diff_map_svg(segment_frame(), added=["T-1"], changed=["T-2"])
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    colour = {c: CHANGE_COLOURS[c][0] for c in CHANGE_COLOURS}
    assert f"stroke='{colour['added']}'" in svg and "T-1 (ajouté)" in svg
    assert f"stroke='{colour['changed']}'" in svg and "T-2 (modifié)" in svg
    assert diff_map_svg(segment_frame(), limit=1).count("<polyline") == 1


def test_diff_map_keeps_lines_on_the_extent_edge_inside_the_drawing() -> None:
    """A --T-1-- B --T-2-- C: T-1 is the extent's bottom edge, T-2 its right edge."""
    svg = diff_map_svg(segment_frame(), width=900)
    height = float(re.search(r"viewBox='0 -24 900 ([\d.]+)'", svg).group(1)) - 24
    points = [
        tuple(map(float, p.split(",")))
        for path in re.findall(r"points='([^']*)'", svg)
        for p in path.split()
    ]
    assert min(x for x, _ in points) >= 2 and max(x for x, _ in points) <= 898
    assert min(y for _, y in points) >= 2 and max(y for _, y in points) <= height - 2


def test_long_file_list_is_folded_so_the_effect_stays_in_view() -> None:
    """A GraceTHD delivery (some 80 template files) must not push the effect off screen."""
    empty = prepare_import([]).findings
    files = [{"path": f"g/l_{i}.csv", "size": 1000, "sha256": "0" * 64} for i in range(80)]
    page = render_html(empty, title="Rapport", verdict="ok", files=files)
    assert "<details><summary>80 fichiers, 80\u202f000 octets</summary>" in page
    few = render_html(empty, title="Rapport", verdict="ok", files=files[:3])
    assert "<details>" not in few and "g/l_2.csv" in few
