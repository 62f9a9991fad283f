"""GraceTHD v2 deliveries: translation to the registry and GraceTHD-Check-like rules."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import shapely

from recor import registry
from recor.ingest.pipeline import import_paths, prepare_import
from tests.ingest.gracethd_builders import N1, gracethd_tables, write_gracethd


def _rows(prepared, rule_id: str):
    rows = prepared.findings[prepared.findings["rule"] == rule_id]
    assert len(rows), prepared.findings.to_string()
    return rows


def test_gracethd_delivery_becomes_sites_segments_and_duct_groups(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    folder = write_gracethd(gracethd_templates, tmp_path / "g", gracethd_tables())
    prepared = prepare_import([folder])
    assert prepared.profile == "gracethd-v2"
    assert not prepared.refused, prepared.errors().to_string()
    sites = prepared.delivery.sites.set_index("code")
    assert sites.loc["ND1", "kind"] == "pop" and sites.loc["ND2", "kind"] == "chamber"
    assert sites.loc["ND1", "name"] == "NRO d'Orléans"
    segments = prepared.delivery.segments.set_index("code")
    assert list(segments.loc["CM1", ["site_a", "site_b", "fibre_count", "fibres_used"]]) == [
        "ND1",
        "ND2",
        72,
        12,
    ]
    assert (
        segments.loc["CM1", "installation"] == "duct"
        and segments.loc["CM2", "installation"] == "aerial"
    )
    links = prepared.delivery.segment_risk_groups
    assert sorted(links["segment_code"]) == ["CM1", "CM2"] and set(links["risk_group_code"]) == {
        "CD:CD1"
    }


def test_gracethd_zip_is_read(gracethd_templates: Path, tmp_path: Path) -> None:
    folder = write_gracethd(gracethd_templates, tmp_path / "g", gracethd_tables())
    archive = tmp_path / "livraison.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, f"LIVRAISON_EXE/{file.name}")
    prepared = prepare_import([archive])
    assert not prepared.refused and len(prepared.delivery.segments) == 2


def test_gracethd_refuses_cheminement_with_unknown_node(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    tables = gracethd_tables()
    tables["t_cheminement"][1]["cm_ndcode2"] = "ND9999"
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "g", tables)])
    row = _rows(prepared, "GTHD-REF").iloc[0]
    assert prepared.refused
    assert (row["file"], row["feature"], row["code"], row["field"], row["value"]) == (
        "g/t_cheminement.shp", 1, "CM2", "cm_ndcode2", "ND9999",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("table", "index", "field", "value", "rule_id"),
    [
        ("t_cable", 0, "cb_capafo", "1000", "GTHD-CAPAFO"),
        ("t_cable", 0, "cb_fo_util", "60", "GTHD-FO-UTIL"),
        ("t_cable", 1, "cb_rf_code", "RF48", "GTHD-RF-CAPA"),
        ("t_cheminement", 0, "cm_avct", "Z", "GTHD-LIST"),
        ("t_sitetech", 0, "st_typelog", "XXX", "GTHD-LIST"),
        ("t_cab_cond", 0, "cc_cd_code", "CD404", "GTHD-REF"),
        ("t_cheminement", 0, "cm_typ_imp", None, "GTHD-FIELD-REQUIRED"),
        ("t_cable", 1, "cb_code", "CB1", "GTHD-CODE-DUP"),
    ],
)
def test_gracethd_check_rules(
    gracethd_templates: Path,
    tmp_path: Path,
    table: str,
    index: int,
    field: str,
    value,
    rule_id: str,
) -> None:
    tables = gracethd_tables()
    tables[table][index][field] = value
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "g", tables)])
    assert prepared.refused
    assert table in set(
        _rows(prepared, rule_id)["file"].str.split("/").str[-1].str.split(".").str[0]
    )


def test_gracethd_exe_delivery_without_duct_links_refused(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    tables = gracethd_tables()
    tables["t_cab_cond"] = []
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "g", tables)])
    assert "t_cab_cond" in set(_rows(prepared, "GTHD-TABLE-MISSING")["file"])
    avp = gracethd_tables(phase="AVP")
    avp["t_cab_cond"] = []
    accepted = prepare_import([write_gracethd(gracethd_templates, tmp_path / "avp", avp)])
    assert "GTHD-TABLE-MISSING" not in set(accepted.findings["rule"])


def test_gracethd_delivery_with_empty_optional_tables_is_accepted(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    """The templates carry every table; those the AVP grid does not require stay empty."""
    avp = gracethd_tables(phase="AVP")
    for table in ("t_cab_cond", "t_cond_chem", "t_conduite", "t_fibre", "t_position", "t_ropt"):
        avp[table] = []
    for row in avp["t_masque"]:
        row["mq_cd_code"] = None
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "avp", avp)])
    assert not prepared.refused, prepared.errors().to_string()
    assert len(prepared.delivery.segments) == 2


def test_gracethd_cheminement_end_off_its_node_refused(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    tables = gracethd_tables()
    tables["t_cheminement"][0]["geometry"] = shapely.LineString(
        [(N1[0], N1[1] + 30), (620_000.0, 6_755_000.0)]
    )
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "g", tables)])
    row = _rows(prepared, "GTHD-CM-END").iloc[0]
    assert (row["code"], row["field"]) == ("CM1", "cm_ndcode1")
    assert row["value"] == "ND1 à 30.00 m" and "extrémité début" in row["message"]


@pytest.mark.db
def test_gracethd_import_loads_and_reloads_unchanged(
    conn, gracethd_templates: Path, tmp_path: Path
) -> None:
    folder = write_gracethd(gracethd_templates, tmp_path / "g", gracethd_tables())
    first = import_paths(conn, [folder])
    assert first.loaded, first.prepared.findings.to_string()
    groups = registry.read_segments(conn).set_index("code")["risk_groups"]
    assert tuple(groups["CM1"]) == ("CD:CD1",)
    second = import_paths(conn, [folder], recheck=True)  # read and diffed, not short-cut
    assert second.summary.segments.as_dict()["unchanged"] == 2
