"""GraceTHD export: the round trip holds, and the export satisfies GraceTHD-Check's schema
and checks (the official scripts, loaded in a throwaway database)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import psycopg
import pyogrio
import pytest
import shapely

from recor import registry
from recor.cli import build_parser
from recor.export.gracethd import gracethd_export, gracethd_frames, write_gracethd
from recor.ingest import gracethd_standard as std
from recor.ingest.pipeline import import_paths, prepare_import
from recor.registry import ReplaceScope
from recor.registry.gracethd_store import read_gracethd_tables
from tests.ingest import gracethd_oracle as oracle
from tests.ingest.gracethd_builders import gracethd_tables
from tests.ingest.gracethd_builders import write_gracethd as write_delivery
from tests.ingest.test_gracethd_oracle import STANDARD, model  # noqa: F401  (fixture)

pytestmark = pytest.mark.db


def _export(conn: psycopg.Connection, out: Path, **kwargs) -> list[Path]:
    tables = gracethd_frames(
        read_gracethd_tables(conn), registry.read_sites(conn), registry.read_segments(conn),
        **kwargs,
    )  # fmt: skip
    return write_gracethd(tables, out)


def test_export_writes_every_table_with_prj_cpg_and_lists(
    conn: psycopg.Connection, gracethd_templates: Path, tmp_path: Path
) -> None:
    loaded = import_paths(
        conn, [write_delivery(gracethd_templates, tmp_path / "g", gracethd_tables())]
    )
    assert loaded.loaded, loaded.prepared.findings.to_string()
    out = tmp_path / "export"
    _export(conn, out)
    for table, fields in std.fields().items():
        spatial = any(f.is_geometry for f in fields)
        suffixes = (".shp", ".shx", ".dbf", ".prj", ".cpg") if spatial else (".csv",)
        assert all((out / f"{table}{s}").exists() for s in suffixes), table
    assert (out / "t_noeud.cpg").read_text() == "UTF-8" and "Lambert" in (
        out / "t_noeud.prj"
    ).read_text()
    assert (out / "t_cable.csv").read_text(encoding="utf-8").splitlines()[0].startswith("cb_code;")
    assert len(list(out.glob("l_*.csv"))) == len(std.code_lists())


def test_round_trip_changes_nothing_and_satisfies_gracethd_check(
    conn: psycopg.Connection,
    model: psycopg.Connection,  # noqa: F811  (the fixture imported above)
    gracethd_templates: Path,
    tmp_path: Path,
) -> None:
    first = import_paths(
        conn, [write_delivery(gracethd_templates, tmp_path / "g", gracethd_tables("REC"))]
    )
    assert first.loaded, first.prepared.findings.to_string()
    out = tmp_path / "export"
    _export(conn, out)
    again = import_paths(conn, [out])
    assert again.prepared.findings.empty, again.prepared.findings.to_string()
    assert again.summary.batch_id is None and not again.summary.changes_anything()
    prepared = prepare_import([out])
    with model.transaction(force_rollback=True):
        oracle.load(model, prepared.delivery.gracethd_tables)  # no constraint error
        counts = oracle.run_checks(model, STANDARD)
    assert oracle.verdict(counts, STANDARD, "REC") == set()


def test_area_keeps_what_it_intersects_and_what_depends_on_it(
    conn: psycopg.Connection, gracethd_templates: Path, tmp_path: Path
) -> None:
    import_paths(conn, [write_delivery(gracethd_templates, tmp_path / "g", gracethd_tables())])
    around_nd4 = shapely.box(618_400, 6_755_400, 618_600, 6_755_600)
    tables = gracethd_frames(
        read_gracethd_tables(conn), registry.read_sites(conn), registry.read_segments(conn),
        area=around_nd4,
    )  # fmt: skip
    assert list(tables["t_siteemission"]["se_code"]) == ["SE1"]
    assert tables["t_cheminement"].empty and tables["t_sitetech"].empty
    # what SE1 references comes along (its address AD1 at ND3, its organisations)
    assert list(tables["t_adresse"]["ad_code"]) == ["AD1"] and len(tables["t_organisme"]) == 1
    for table, fields in std.fields().items():  # the set is whole: every reference resolves
        for item in (f for f in fields if f.ref_table.startswith("t_")):
            if item.name in tables.get(table, ()):
                values = set(tables[table][item.name].dropna())
                assert values <= set(tables[item.ref_table][item.ref_field]), (table, item.name)


def test_registry_segments_from_other_sources_become_minimal_rows(sample_registry_url: str) -> None:
    with registry.connect(sample_registry_url, autocommit=True) as conn:
        sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    tables = gracethd_frames({}, sites, segments)
    paths = tables["t_cheminement"].set_index("cm_code")
    first = segments.iloc[0]
    assert len(paths) == len(segments) and len(tables["t_noeud"]) == len(sites)
    assert paths.loc[first["code"], "cm_ndcode1"] == first["site_a"]


def test_cli_arguments() -> None:
    args = build_parser().parse_args(["export", "gracethd", "out",
                                      "--as-of", "2026-01-01T00:00:00+00:00",
                                      "--area", "POLYGON((0 0,1 0,1 1,0 0))"])  # fmt: skip
    assert args.out == Path("out") and args.area.area == 0.5


def test_cli_writes_the_set_as_of_a_time(
    registry_url: str, gracethd_templates: Path, tmp_path: Path, capsys
) -> None:
    from recor.cli import main

    delivery = write_delivery(gracethd_templates, tmp_path / "g", gracethd_tables())
    assert main(["--database-url", registry_url, "import", str(delivery), "--quiet"]) == 0
    out = tmp_path / "export"
    assert main(["--database-url", registry_url, "export", "gracethd", str(out)]) == 0
    assert "t_cheminement" in capsys.readouterr().out
    assert len(prepare_import([out]).delivery.segments) == 2
    before = tmp_path / "before"
    code = main(["--database-url", registry_url, "export", "gracethd", str(before),
                 "--as-of", "2000-01-01T00:00:00+00:00"])  # fmt: skip
    assert code == 0 and prepare_import([before]).delivery is None


def _redeliver(conn: psycopg.Connection, folder: Path, segments, **kwargs):
    """A later delivery in recor's own format (sites layer: one far site; segments given)."""
    folder.mkdir()
    far = gpd.GeoDataFrame(
        {"code": ["S-FAR"], "name": ["Loin"], "kind": ["chamber"], "operator": [""],
         "status": ["in_service"], "source": ["relevé"]},
        geometry=[shapely.Point(630_000, 6_760_000)], crs=2154,
    )  # fmt: skip
    pyogrio.write_dataframe(far, folder / "sites.shp", encoding="UTF-8")
    if segments is not None:
        pyogrio.write_dataframe(segments, folder / "segments.shp", encoding="UTF-8")
    result = import_paths(conn, [folder], **kwargs)
    assert result.loaded, result.prepared.findings.to_string()
    return result


def _dangling(tables: dict) -> list[tuple[str, str, set]]:
    out = []
    for table, fields in std.fields().items():
        for item in (f for f in fields if f.ref_table.startswith("t_")):
            if table in tables and item.name in tables[table]:
                values = set(tables[table][item.name].dropna()) - {""}
                target = set(tables.get(item.ref_table, {}).get(item.ref_field, ()))
                if values - target:
                    out.append((table, item.name, values - target))
    return out


def test_retired_cheminement_leaves_no_dangling_reference_and_loads_into_the_model(
    conn: psycopg.Connection,
    model: psycopg.Connection,  # noqa: F811
    gracethd_templates: Path,
    tmp_path: Path,
) -> None:
    """ND1 --CM1-- ND2 --CM2-- ND3, duct CD1 in both; a later survey delivery retires CM2
    (``--replace-scope`` on a box around CM2's middle): its t_cond_chem row goes with it."""
    first = import_paths(
        conn, [write_delivery(gracethd_templates, tmp_path / "g", gracethd_tables("REC"))]
    )
    assert first.loaded, first.prepared.findings.to_string()
    box = shapely.box(619_990, 6_755_400, 620_010, 6_755_600)
    retire = _redeliver(conn, tmp_path / "survey", None, replace_scope=ReplaceScope(area=box))
    assert retire.summary.segments.retired == ["CM2"], retire.summary.segments
    export = gracethd_export(
        read_gracethd_tables(conn), registry.read_sites(conn), registry.read_segments(conn)
    )
    tables = export.tables
    assert list(tables["t_cheminement"]["cm_code"]) == ["CM1"]
    assert list(tables["t_cond_chem"]["dm_cm_code"]) == ["CM1"]
    assert _dangling(tables) == []
    assert export.gaps.left_out[("t_cheminement", "retiré du registre")] == 1
    assert export.gaps.left_out[("t_cond_chem", "dm_cm_code : t_cheminement absent")] == 1
    out = tmp_path / "export"
    write_gracethd(tables, out, export.gaps)
    readme = (out / "README.txt").read_text("utf-8")
    assert "t_cond_chem : 1 ligne(s) non exportée(s)" in readme
    prepared = prepare_import([out])
    # the one refusal: the survey's own site S-FAR, whose unknown fields the README names
    errors = prepared.errors()
    assert set(errors["rule"]) == {"GTHD-FIELD-REQUIRED"} and set(errors["code"]) == {"S-FAR"}
    assert all(f"t_noeud.{name} : 1 objet(s)" in readme for name in errors["field"]), readme
    with model.transaction(force_rollback=True):
        oracle.load(model, prepared.delivery.gracethd_tables)  # no constraint error


def _two_ducts() -> dict[str, list[dict]]:
    """CB1 (48 fo, 12 used) in CD1 through CM1 and CM2; CB2 (24 fo) in CD2 through CM2 only:
    CM1 carries 48 fibres, CM2 72."""
    tables = gracethd_tables("REC")
    tables["t_conduite"].append({**tables["t_conduite"][0], "cd_code": "CD2"})
    tables["t_cab_cond"][1]["cc_cd_code"] = "CD2"
    tables["t_cond_chem"].append({**tables["t_cond_chem"][1], "dm_cd_code": "CD2"})
    return tables


def test_registry_edits_are_written_back_onto_the_fields_they_come_from(
    conn: psycopg.Connection, gracethd_templates: Path, tmp_path: Path
) -> None:
    first = import_paths(conn, [write_delivery(gracethd_templates, tmp_path / "g", _two_ducts())])
    assert first.loaded, first.prepared.findings.to_string()
    before = registry.read_segments(conn).set_index("code")
    assert before.loc["CM2", "fibre_count"] == 72 and before.loc["CM1", "fibre_count"] == 48
    edited = gpd.GeoDataFrame(
        {"code": ["CM1", "CM2"], "site_a": ["ND1", "ND2"], "site_b": ["ND2", "ND3"],
         "fibres": [48, 96], "fibres_use": [20, 12], "install": ["duct", "buried"],
         "status": ["out_of_service", "in_service"], "owner": ["OR1", "Région CVL"],
         "operator": ["Orléans Métropole", "OR1"], "commission": ["2021-03-04", "2020-01-01"]},
        geometry=list(before.loc[["CM1", "CM2"]].geometry), crs=2154,
    )  # fmt: skip
    _redeliver(conn, tmp_path / "survey", edited)
    sites = registry.read_sites(conn)
    sites.loc[sites["code"] == "ND2", "name"] = "Chambre de Saran (renommée)"
    registry_now = registry.read_segments(conn).set_index("code")
    export = gracethd_export(read_gracethd_tables(conn), sites, registry_now.reset_index())
    paths = export.tables["t_cheminement"].set_index("cm_code")
    assert paths.loc["CM1", "cm_avct"] == "H"
    assert paths.loc["CM1", "cm_gest_do"] == "Orléans Métropole"
    assert paths.loc["CM2", "cm_typ_imp"] == "4" and paths.loc["CM2", "cm_prop_do"] == "Région CVL"
    assert str(paths.loc["CM1", "cm_datemes"]).startswith("2021-03-04")
    cables = export.tables["t_cable"].set_index("cb_code")
    assert cables.loc["CB2", "cb_capafo"] == "48" and cables.loc["CB1", "cb_capafo"] == "48"
    assert {"Orléans Métropole", "Région CVL"} <= set(export.tables["t_organisme"]["or_code"])
    assert export.tables["t_noeud"].set_index("nd_code").loc["ND2", "nd_nom"] == (
        "Chambre de Saran (renommée)"
    )
    # CB1 runs through CM1 and CM2: 8 more used fibres on CM1 alone belong to no one cable
    assert export.gaps.count("t_cable", "cb_fo_util") == 1
    assert _dangling(export.tables) == []
    # the round trip reflects the registry: re-reading the export derives the registry's values
    out = tmp_path / "export"
    write_gracethd(export.tables, out, export.gaps)
    again = prepare_import([out]).delivery
    derived = again.segments.set_index("code")
    for code in ("CM1", "CM2"):
        for column in ("status", "installation", "owner", "operator", "fibre_count"):
            assert derived.loc[code, column] == registry_now.loc[code, column], (code, column)
    assert derived.loc["CM2", "fibres_used"] == registry_now.loc["CM2", "fibres_used"]
    assert again.sites.set_index("code").loc["ND2", "name"] == "Chambre de Saran (renommée)"


def test_registry_only_rows_are_filled_with_what_the_registry_knows_and_gaps_are_said(
    sample_registry_url: str, tmp_path: Path, capsys
) -> None:
    from recor.cli import main

    with registry.connect(sample_registry_url, autocommit=True) as conn:
        sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    out = tmp_path / "export"
    assert main(["--database-url", sample_registry_url, "export", "gracethd", str(out)]) == 0
    printed = capsys.readouterr().out
    readme = (out / "README.txt").read_text("utf-8")
    written = prepare_import([out]).delivery.gracethd_tables
    paths, nodes = written["t_cheminement"], written["t_noeud"]
    assert len(paths) == len(segments) and len(nodes) == len(sites)
    # filled from the registry: progress, length, installation where a code says it
    assert paths["cm_avct"].notna().all() and paths["cm_long"].notna().all()
    duct = set(segments.loc[segments["installation"] == "duct", "code"])
    assert set(paths.loc[paths["cm_typ_imp"].astype(str) == "7", "cm_code"]) == duct
    chambers = set(sites.loc[sites["kind"] == "chamber", "code"])
    assert set(nodes.loc[nodes["nd_type"] == "PT", "nd_code"]) == chambers
    # what the registry does not know is said, per field, with the count of objects left empty
    said = {
        line[2:].split(" objet(s)")[0]
        for line in readme.splitlines()
        if "inconnu du registre" in line and not line.startswith("- t_organisme")
    }
    expected = set()
    for frame, table in ((paths, "t_cheminement"), (nodes, "t_noeud")):
        for item in std.fields()[table]:
            empty = int(frame[item.name].isna().sum()) if item.name in frame else len(frame)
            mandatory = any(
                std.obligation(std.DEFAULT_NETWORK, table, item.name, p) == "O" for p in std.PHASES
            )
            if empty and mandatory and not item.is_geometry:
                expected.add(f"{table}.{item.name} : {empty}")
    assert said == expected
    # the operator the registry names becomes an organisation, its unknown fields said too
    operators = set(segments["operator"]) - {""}
    assert operators <= set(written["t_organisme"]["or_code"])
    assert f"t_organisme.or_siren : {len(operators)} objet(s)" in readme
    assert all(f"lacune : {line[2:]}" in printed for line in readme.splitlines()[3:])
    assert "cm_statut" in readme and "cm_creadat" in readme
