"""recor's GraceTHD verdicts against GraceTHD-Check's own: the model's PostGIS schema (its
constraints) and the validator's SQL, run on the same deliveries in a throwaway database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import shapely

from recor.ingest.pipeline import prepare_import
from tests.conftest import SHARED_DATA, _create_database, _drop_database, _url_for
from tests.ingest import gracethd_oracle as oracle
from tests.ingest.gracethd_builders import gracethd_tables, write_gracethd

pytestmark = [pytest.mark.db, pytest.mark.slow]

STANDARD = SHARED_DATA / "gracethd-v2-standard"
#: CM2 drawn 500 m past ND3: its end is on no node nor cheminement.
LONG_PATH = shapely.LineString([(620e3, 6755e3), (620e3, 6756.5e3)])
#: ND4 moved out of every zone.
FAR_NODE = shapely.Point(617e3, 6755e3)
FK, BAD_TEXT = psycopg.errors.ForeignKeyViolation, psycopg.errors.InvalidTextRepresentation


@pytest.fixture(scope="module")
def model(postgis_url: str) -> Iterator[psycopg.Connection]:
    """A database holding GraceTHD-Check's schemas; each test's writes are rolled back."""
    if not (STANDARD / "check-sql").exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {STANDARD}")
        pytest.skip(f"GraceTHD-Check scripts not found at {STANDARD}")
    template = str(psycopg.conninfo.conninfo_to_dict(postgis_url)["dbname"])
    name = f"{template}_gthd_{uuid.uuid4().hex[:8]}"
    _create_database(name, template=template)
    try:
        with psycopg.connect(_url_for(name)) as conn:
            oracle.install(conn, STANDARD)
            conn.commit()
            yield conn
    finally:
        _drop_database(name)


def _prepare(templates: Path, folder: Path, phase: str, changes: dict | None = None):
    tables = gracethd_tables(phase)
    for (table, index, name), value in (changes or {}).items():
        tables[table][index][name] = value
    return prepare_import([write_gracethd(templates, folder, tables)])


def _judge(model: psycopg.Connection, prepared) -> tuple[dict[str, int], set[str]]:
    """GraceTHD-Check's row counts per check, and the check codes of recor's findings."""
    with model.transaction(force_rollback=True):
        oracle.load(model, prepared.delivery.gracethd_tables)
        counts = oracle.run_checks(model, STANDARD)
    return counts, set(prepared.findings["check"]) - {""}


@pytest.mark.parametrize("phase", ["PRE", "AVP", "EXE", "REC", "MCO"])
def test_valid_delivery_loads_into_the_model_and_both_validators_agree(
    model: psycopg.Connection, gracethd_templates: Path, tmp_path: Path, phase: str
) -> None:
    prepared = _prepare(gracethd_templates, tmp_path / "g", phase)
    counts, recor = _judge(model, prepared)
    assert prepared.findings.empty and not recor
    assert oracle.verdict(counts, STANDARD, phase) == set()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({("t_cheminement", 0, "cm_avct"): None}, {"cm_avct_1_r00423"}),
        ({("t_cable", 1, "cb_tech"): None, ("t_cable", 1, "cb_typelog"): None},
         {"cb_tech_1_r00520", "cb_typelog_1_r00522"}),
        ({("t_noeud", 1, "nd_geolmod"): None}, {"nd_geolmod_1_r00101"}),
        ({("t_cable", 1, "cb_capafo"): 1}, {"cb_capafo_1_s80008"}),
        ({("t_cable", 1, "cb_rf_code"): "RF48"}, {"cb_capafo_1_s80007"}),
        ({("t_ebp", 1, "bp_sf_code"): None}, {"cl_geom_1_g80010", "cl_geom_1_m80010"}),
        ({("t_cheminement", 1, "geometry"): LONG_PATH},
         {"cm_geom_1_g80013", "cm_geom_1_m80011"}),
        ({("t_zsro", 0, "zs_nd_code"): "ND4", ("t_noeud", 3, "geometry"): FAR_NODE},
         {"zs_geom_1_m80020"}),
        ({("t_zpbo", 0, "geometry"): shapely.box(619e3, 6755e3, 622e3, 6756e3)},
         {"zp_geom_1_m80015"}),
        ({("t_adresse", 0, "ad_nbprhab"): 3}, {"ad_nbprhab_1_s80003"}),
    ],
)  # fmt: skip
def test_each_mutant_is_found_by_recor_and_by_gracethd_check(
    model: psycopg.Connection, gracethd_templates: Path, tmp_path: Path, changes, expected
) -> None:
    prepared = _prepare(gracethd_templates, tmp_path / "g", "REC", changes)
    counts, recor = _judge(model, prepared)
    found = {code for code, n in counts.items() if n}
    assert expected <= found, sorted(found)
    assert expected <= recor, prepared.findings.to_string()
    # GraceTHD-Check reports nothing at this phase that recor did not
    assert oracle.verdict(counts, STANDARD, "REC") <= recor


def test_zone_overlap_found_by_both(
    model: psycopg.Connection, gracethd_templates: Path, tmp_path: Path
) -> None:
    tables = gracethd_tables("REC")
    tables["t_zpbo"].append({**tables["t_zpbo"][0], "zp_code": "ZP2"})
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "g", tables)])
    counts, recor = _judge(model, prepared)
    assert counts["zp_geom_1_g80018"] == 2 and "zp_geom_1_g80018" in recor


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({("t_suf", 0, "sf_nd_code"): "ND1"}, "ad_geom_1_g80005"),
        ({("t_cable", 1, "cb_capafo"): 1000}, "cb_capafo_1_s80009"),
    ],
)
def test_defects_found_by_recor_where_gracethd_check_misses_them(
    model: psycopg.Connection, gracethd_templates: Path, tmp_path: Path, changes, code
) -> None:
    """GraceTHD-Check's g80005 and s80009 read thresholds under names its own configuration
    does not define (``ct_1_distmaxad``, ``cb_capafo : capacite maximale des cables``)."""
    prepared = _prepare(gracethd_templates, tmp_path / "g", "REC", changes)
    counts, recor = _judge(model, prepared)
    assert counts[code] == 0 and code in recor


@pytest.mark.parametrize(
    ("changes", "rule_id", "error"),
    [
        ({("t_cable", 0, "cb_tech"): "ZZZ"}, "GTHD-LIST", FK),
        ({("t_sitetech", 0, "st_ad_code"): "AD404"}, "GTHD-REF", FK),
        ({("t_cable", 0, "cb_rf_code"): "RF404"}, "GTHD-REF", FK),
        ({("t_noeud", 3, "nd_code"): "ND1"}, "GTHD-CODE-DUP", psycopg.errors.UniqueViolation),
        ({("t_cable", 0, "cb_capafo"): "72FO"}, "GTHD-TYPE", BAD_TEXT),
        ({("t_noeud", 0, "nd_type"): "XYZ"}, "GTHD-LIST", psycopg.errors.StringDataRightTruncation),
    ],
)  # fmt: skip
def test_constraint_mutants_refused_by_recor_and_by_the_model_schema(
    model: psycopg.Connection, gracethd_templates: Path, tmp_path: Path, changes, rule_id, error
) -> None:
    prepared = _prepare(gracethd_templates, tmp_path / "g", "REC", changes)
    assert rule_id in set(prepared.errors()["rule"]), prepared.findings.to_string()
    with pytest.raises(error), model.transaction(force_rollback=True):
        oracle.load(model, prepared.delivery.gracethd_tables)
