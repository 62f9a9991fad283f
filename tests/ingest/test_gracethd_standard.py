"""GraceTHD v2.0.1: the standard's own data, one valid delivery per phase, one mutant per rule
family, the real demo delivery, and delivered tables kept with the batch."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import shapely

from recor.ingest import gracethd_standard as std
from recor.ingest.gracethd_checks import STRUCTURAL_FIELDS, WAIVED
from recor.ingest.gracethd_geo import _ZONES
from recor.ingest.pipeline import import_paths, prepare_import
from recor.ingest.profiles import load_profile
from recor.registry.gracethd_store import read_gracethd_tables
from scripts.gracethd_data import build
from tests.ingest.gracethd_builders import N2, N3, gracethd_tables, write_gracethd

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEMO = SHARED / "real" / "gracethd-demo01"


def _shared(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not found at {path}")
    return path


def _delivery(templates: Path, folder: Path, phase: str = "EXE", **mutate) -> list[Path]:
    tables = gracethd_tables(phase)
    for (table, index, name), value in mutate.get("changes", {}).items():
        tables[table][index][name] = value
    return [write_gracethd(templates, folder, tables)]


def _found(prepared, rule_id: str):
    rows = prepared.findings[prepared.findings["rule"] == rule_id]
    assert len(rows), prepared.findings.to_string()
    return rows


def test_shipped_standard_is_the_shared_standard(tmp_path: Path) -> None:
    _shared(SHARED / "gracethd-v2-standard")
    shipped = Path(std.__file__).parent / "gracethd_data"
    for rebuilt in build(SHARED, tmp_path):
        assert rebuilt.read_bytes() == (shipped / rebuilt.name).read_bytes(), rebuilt.name


def test_standard_data_covers_the_model_and_the_catalogue() -> None:
    assert len(std.tables()) == 33
    assert sum(len(f) for f in std.fields().values()) == 669
    assert std.check_code("t_cheminement", "cm_avct") == "cm_avct_1_r00423"
    # the grid, not a guess: cm_avct optional at PRE/DIA, mandatory from AVP
    phases = [
        std.obligation(std.DEFAULT_NETWORK, "t_cheminement", "cm_avct", p) for p in std.PHASES
    ]
    assert phases[:3] == ["F", "F", "O"]
    assert std.thresholds()["ct_1_cbcapamin"] == 2


@pytest.mark.parametrize("phase", std.PHASES)
def test_valid_delivery_has_no_finding_at_each_phase(
    gracethd_templates: Path, tmp_path: Path, phase: str
) -> None:
    prepared = prepare_import(_delivery(gracethd_templates, tmp_path / "g", phase))
    assert prepared.findings.empty, prepared.findings.to_string()


@pytest.mark.parametrize(
    ("changes", "rule_id", "field", "check"),
    [
        (
            {("t_cheminement", 0, "cm_avct"): None},
            "GTHD-FIELD-REQUIRED",
            "cm_avct",
            "cm_avct_1_r00423",
        ),
        ({("t_cable", 0, "cb_tech"): "ZZZ"}, "GTHD-LIST", "cb_tech", ""),
        ({("t_sitetech", 0, "st_ad_code"): "AD404"}, "GTHD-REF", "st_ad_code", ""),
        ({("t_cable", 0, "cb_rf_code"): "RF404"}, "GTHD-REF", "cb_rf_code", ""),
        ({("t_cable", 1, "cb_capafo"): 1}, "GTHD-CAPAFO", "cb_capafo", "cb_capafo_1_s80008"),
        ({("t_cable", 1, "cb_capafo"): 1000}, "GTHD-CAPAFO", "cb_capafo", "cb_capafo_1_s80009"),
        ({("t_cable", 1, "cb_rf_code"): "RF48"}, "GTHD-RF-CAPA", "cb_capafo", "cb_capafo_1_s80007"),
        ({("t_ebp", 1, "bp_sf_code"): None}, "GTHD-CL-BUSINESS", "geom", "cl_geom_1_g80010"),
        ({("t_suf", 0, "sf_nd_code"): "ND2"}, "GTHD-SUF-FAR", "sf_ad_code", "ad_geom_1_g80005"),
        (
            {
                ("t_zsro", 0, "zs_nd_code"): "ND4",
                ("t_noeud", 3, "geometry"): shapely.Point(617e3, 6755e3),
            },
            "GTHD-ZONE-FAR",
            "zs_nd_code",
            "zs_geom_1_m80020",
        ),
        ({("t_noeud", 3, "nd_code"): "ND1"}, "GTHD-CODE-DUP", "nd_code", ""),
        ({("t_cable", 0, "cb_lgreel"): "long"}, "GTHD-TYPE", "cb_lgreel", ""),
    ],
)
def test_each_rule_family_refuses_its_mutant(
    gracethd_templates: Path, tmp_path: Path, changes: dict, rule_id: str, field: str, check: str
) -> None:
    prepared = prepare_import(_delivery(gracethd_templates, tmp_path / "g", changes=changes))
    rows = _found(prepared, rule_id)
    assert (field, check) in set(zip(rows["field"], rows["check"], strict=True))


def test_phase_grid_follows_the_standard_not_a_fixed_list(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    """cm_avct is optional at DIA and mandatory at AVP (issue 13: recor said PRE)."""
    change = {("t_cheminement", 0, "cm_avct"): None}
    dia = prepare_import(_delivery(gracethd_templates, tmp_path / "dia", "DIA", changes=change))
    assert dia.findings.empty, dia.findings.to_string()
    avp = prepare_import(_delivery(gracethd_templates, tmp_path / "avp", "AVP", changes=change))
    assert _found(avp, "GTHD-FIELD-REQUIRED").iloc[0]["code"] == "CM1"


def test_chosen_phase_overrides_statut_and_thresholds_come_from_the_profile(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    drop = {("t_cable", 1, "cb_capafo"): 1, ("t_cable", 1, "cb_fo_util"): 1,
            ("t_cable", 1, "cb_fo_disp"): 0}  # fmt: skip
    paths = _delivery(gracethd_templates, tmp_path / "g", "DIA", changes=drop)
    profile = load_profile("gracethd-v2")
    options = {**profile.options, "thresholds": {"ct_1_cbcapamin": 1}}
    one_fibre = dataclasses.replace(profile, options=options)
    assert prepare_import(paths, profile=one_fibre).findings.empty
    assert "GTHD-CAPAFO" in set(prepare_import(paths).findings["rule"])


def test_unreadable_capacity_is_one_clear_finding(gracethd_templates: Path, tmp_path: Path) -> None:
    paths = _delivery(
        gracethd_templates, tmp_path / "g", changes={("t_cable", 0, "cb_capafo"): "72FO"}
    )
    prepared = prepare_import(paths)
    errors = prepared.errors()
    assert list(errors["rule"]) == ["GTHD-TYPE"], errors.to_string()
    assert (errors.iloc[0]["code"], errors.iloc[0]["value"]) == ("CB1", "72FO")
    segments = prepared.delivery.segments.set_index("code")
    assert segments["fibre_count"].isna().all()  # unknown, not 24


def test_cheminement_end_names_the_off_end_and_its_distance(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    moved = shapely.LineString([N2, (N3[0] + 5, N3[1])])
    paths = _delivery(
        gracethd_templates, tmp_path / "g", changes={("t_cheminement", 1, "geometry"): moved}
    )
    row = _found(prepare_import(paths), "GTHD-CM-END").iloc[0]
    assert (row["code"], row["field"], row["value"]) == ("CM2", "cm_ndcode2", "ND3 à 5.00 m")


def test_zone_outside_its_parent_and_overlapping_zones(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    tables = gracethd_tables()
    zpbo = tables["t_zpbo"][0]
    tables["t_zpbo"].append({**zpbo, "zp_code": "ZP2"})
    zpbo["geometry"] = shapely.affinity.translate(zpbo["geometry"], 2000)
    prepared = prepare_import([write_gracethd(gracethd_templates, tmp_path / "g", tables)])
    nesting = _found(prepared, "GTHD-ZONE-NESTING").iloc[0]
    assert (nesting["code"], nesting["check"]) == ("ZP1", "zp_geom_1_m80015")
    assert {"ZP1", "ZP2"} <= set(_found(prepared, "GTHD-ZONE-OVERLAP")["code"])


def _draft(**draft: object):
    """The built-in gracethd-v2 profile with ``gracethd_draft: DRAFT``."""
    profile = load_profile("gracethd-v2")
    return dataclasses.replace(profile, options={**profile.options, "gracethd_draft": draft})


def test_informative_check_of_the_catalogue_is_a_warning(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    """m80020 (SRO far from its zone) is sensitivity 4 « Informatif » in t_ct_cat."""
    assert std.check_sensitivity("zs_geom_1_m80020") == "4"
    assert std.sensitivity_label("4") == "Informatif"
    changes = {("t_zsro", 0, "zs_nd_code"): "ND4",
               ("t_noeud", 3, "geometry"): shapely.Point(617e3, 6755e3)}  # fmt: skip
    prepared = prepare_import(_delivery(gracethd_templates, tmp_path / "g", changes=changes))
    far = _found(prepared, "GTHD-ZONE-FAR").iloc[0]
    assert far["severity"] == "warning" and "Informatif" in far["message"]
    assert not prepared.refused, prepared.errors().to_string()


def test_draft_waives_missing_values_never_structural_faults(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    changes = {("t_cheminement", 0, "cm_avct"): None, ("t_cable", 0, "cb_rf_code"): "RF404",
               ("t_noeud", 1, "nd_geolmod"): None}  # fmt: skip
    paths = _delivery(gracethd_templates, tmp_path / "g", "REC", changes=changes)
    strict = prepare_import(paths)
    assert set(strict.errors()["field"]) == {"cm_avct", "cb_rf_code", "nd_geolmod"}
    draft = prepare_import(paths, profile=_draft(reason="essai"))
    errors = draft.errors()
    # the broken reference still refuses the delivery
    assert list(zip(errors["rule"], errors["field"], strict=True)) == [("GTHD-REF", "cb_rf_code")]
    waived = draft.findings[draft.findings["message"].str.endswith(WAIVED)]
    assert set(zip(waived["field"], waived["severity"], strict=True)) == {
        ("cm_avct", "warning"), ("nd_geolmod", "warning")
    }  # fmt: skip
    summary = _found(draft, "GTHD-DRAFT").iloc[0]
    assert summary["value"] == "2" and "(essai)" in summary["message"]


def test_draft_zone_overflow_within_its_stated_bound_only(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    """ZSRO = box inset 200 m; a ZPBO inset 197 m overflows it by 3 m, one inset 190 m by 10."""
    box = shapely.box(618_000.0, 6_754_000.0, 621_000.0, 6_757_000.0)
    for inset, severity in ((197, "warning"), (190, "error")):
        tables = gracethd_tables()
        tables["t_zpbo"][0]["geometry"] = box.buffer(-inset, join_style="mitre")
        paths = [write_gracethd(gracethd_templates, tmp_path / str(inset), tables)]
        nesting = _found(prepare_import(paths), "GTHD-ZONE-NESTING").iloc[0]
        assert nesting["severity"] == "error"  # no draft: refused
        drafted = prepare_import(paths, profile=_draft(reason="essai", zone_tolerance_m=5))
        nesting = _found(drafted, "GTHD-ZONE-NESTING").iloc[0]
        assert nesting["severity"] == severity, nesting["message"]
        assert drafted.refused == (severity == "error")


def test_draft_cannot_escape_its_zone_bound_by_leaving_the_parent_empty(
    gracethd_templates: Path, tmp_path: Path
) -> None:
    """A ZPBO 30 km out of its ZSRO, its parent code emptied: still refused under a draft."""
    tables = gracethd_tables()
    tables["t_zpbo"][0]["geometry"] = shapely.box(640_000, 6_780_000, 641_000, 6_781_000)
    tables["t_zpbo"][0]["zp_zs_code"] = None
    paths = [write_gracethd(gracethd_templates, tmp_path / "g", tables)]
    drafted = prepare_import(paths, profile=_draft(reason="essai"))
    assert drafted.refused
    assert ("GTHD-FIELD-REQUIRED", "zp_zs_code") in set(
        zip(drafted.errors()["rule"], drafted.errors()["field"], strict=True)
    )
    zones = {table: parent for table, _, _, parent, *_ in _ZONES if parent}
    assert set(zones.items()) == set(STRUCTURAL_FIELDS)


@pytest.mark.parametrize(
    "draft",
    [{}, {"reason": " "}, {"reason": "x", "zone_tolerance_m": -1},
     {"reason": "x", "zone_tolerance_m": "5"}, {"reason": "x", "waive": "all"}],
)  # fmt: skip
def test_draft_option_must_say_why_and_its_bound(
    gracethd_templates: Path, tmp_path: Path, draft: dict
) -> None:
    changes = {("t_cheminement", 0, "cm_avct"): None}
    paths = _delivery(gracethd_templates, tmp_path / "g", changes=changes)
    prepared = prepare_import(paths, profile=_draft(**draft))
    profile_error = _found(prepared, "SRC-PROFILE").iloc[0]
    assert profile_error["field"] == "gracethd_draft"
    assert "GTHD-FIELD-REQUIRED" in set(prepared.errors()["rule"])  # nothing waived


def test_demo_delivery_is_read_in_full_with_its_findings() -> None:
    prepared = prepare_import([_shared(DEMO)])
    found = prepared.findings
    assert prepared.refused and prepared.delivery is not None
    assert len(prepared.delivery.gracethd_tables) == 33
    assert len(prepared.delivery.gracethd_tables["t_fibre"]) == 1051
    # one-fibre drop cables: below GraceTHD-Check's minimum capacity
    assert (found["check"] == "cb_capafo_1_s80008").sum() == 26
    # the drawn path that does not match its node codes, both ends named
    ends = found[found["rule"] == "GTHD-CM-END"]
    assert set(ends["field"]) == {"cm_ndcode1", "cm_ndcode2"} and set(ends["code"]) == {
        "CM000180032599"
    }
    assert (found["check"] == "cm_avct_1_r00423").sum() == 25
    assert "GTHD-FO-UTIL" not in set(found["rule"])


def test_demo_zip_reads_like_the_folder() -> None:
    archive = _shared(DEMO) / "AVP-DLG-R2DSPEA001-01-V1.zip"
    folder = prepare_import([DEMO]).findings
    zipped = prepare_import([archive]).findings
    assert sorted(zipped["check"].unique()) == sorted(folder["check"].unique())


@pytest.mark.db
def test_delivered_tables_are_kept_with_the_batch(
    conn, gracethd_templates: Path, tmp_path: Path
) -> None:
    folder = _delivery(gracethd_templates, tmp_path / "g")
    first = import_paths(conn, folder)
    assert first.loaded, first.prepared.findings.to_string()
    assert len(first.summary.gracethd_tables.added) == 33
    kept = read_gracethd_tables(conn)
    assert set(kept) == set(std.tables())
    assert list(kept["t_ebp"]["bp_code"]) == ["BP1", "BP2"]
    assert kept["t_zpbo"].geometry.iloc[0].equals(gracethd_tables()["t_zpbo"][0]["geometry"])
    again = import_paths(conn, folder)
    assert again.summary.batch_id is None and not again.summary.changes_anything()


@pytest.mark.db
def test_undoing_a_batch_restores_the_previous_kept_tables(
    conn, gracethd_templates: Path, tmp_path: Path
) -> None:
    from recor import registry

    assert import_paths(conn, _delivery(gracethd_templates, tmp_path / "a")).loaded
    renamed = {("t_ebp", 0, "bp_etiquet"): "BPE Saran"}
    second = import_paths(conn, _delivery(gracethd_templates, tmp_path / "b", changes=renamed))
    assert second.summary.gracethd_tables.changed == ["t_ebp"]
    assert read_gracethd_tables(conn)["t_ebp"]["bp_etiquet"].iloc[0] == "BPE Saran"
    registry.undo_batch(conn, second.summary.batch_id, user="test")
    assert read_gracethd_tables(conn)["t_ebp"]["bp_etiquet"].iloc[0] != "BPE Saran"
