"""GraceTHD export: the round trip holds, and the export satisfies GraceTHD-Check's schema
and checks (the official scripts, loaded in a throwaway database)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import shapely

from recor import registry
from recor.cli import build_parser
from recor.export.gracethd import gracethd_frames, write_gracethd
from recor.ingest import gracethd_standard as std
from recor.ingest.pipeline import import_paths, prepare_import
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
