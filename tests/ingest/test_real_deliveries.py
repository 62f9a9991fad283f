"""Real and real-looking deliveries: the GraceTHD demo of Touraine Cher Numérique (refused as
delivered, loaded as a draft after the documented fix) and the messy FTTH delivery of the
Cher."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from recor import registry
from recor.export.gracethd import gracethd_export, write_gracethd
from recor.ingest.gracethd_checks import WAIVED
from recor.ingest.pipeline import import_paths, prepare_import
from recor.registry.gracethd_store import read_gracethd_tables
from recor.registry.model import ReplaceScope
from recor.sample_messy import build_messy, write_messy
from tests.gracethd_demo import demo_zip, fix_demo
from tests.real_data import PROFILES, sample_gpkg

FTTH_PROFILE = PROFILES / "ftth-cher.yaml"
DEMO_PROFILE = PROFILES / "gracethd-demo01.yaml"


def _rows(findings: pd.DataFrame, rule: str) -> pd.DataFrame:
    return findings[findings["rule"] == rule]


@pytest.fixture(scope="module")
def messy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_messy(build_messy(), tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def fixed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fix_demo(tmp_path_factory.mktemp("gracethd") / "demo-corrige")


# -- the GraceTHD demo -----------------------------------------------------------------------


def test_gracethd_demo_as_delivered_is_refused_with_its_known_faults() -> None:
    prepared = prepare_import([demo_zip()])
    assert prepared.refused
    errors = prepared.errors()
    by_field = errors.groupby("field")["code"].apply(set)
    # progress (avancement) empty on every cheminement and cable
    assert len(by_field["cm_avct"]) == 25 and len(by_field["cb_avct"]) == 49
    # cable ends, mandatory from the AVP phase, empty
    assert len(by_field["cb_nd1"]) == 49 and len(by_field["cb_nd2"]) == 49
    # 26 one-fibre drop cables, below GraceTHD-Check's ct_1_cbcapamin (2)
    capacity = errors[errors["check"] == "cb_capafo_1_s80008"]
    assert len(capacity) == 26 and set(capacity["value"].astype(str)) == {"1"}
    # one cheminement drawn 6-9 m off both the nodes its codes name, each end named
    off = errors[errors["rule"] == "GTHD-CM-END"]
    assert set(off["code"]) == {"CM000180032599"}
    assert set(off["field"]) == {"cm_ndcode1", "cm_ndcode2"}
    # the one emission site in operation (MCO) makes MCO the delivery's most advanced phase
    assert "phase MCO" in errors.loc[errors["field"] == "ad_hexaclv", "message"].iloc[0]
    # cables in no duct: their fibres are counted on no segment (a warning, not an error)
    assert len(_rows(prepared.findings, "GTHD-CABLE-PATH")) >= 14


def test_gracethd_demo_as_delivered_is_refused_even_as_a_draft() -> None:
    """The draft acceptance waives missing values, never a segment that cannot be placed."""
    prepared = prepare_import([demo_zip()], profile=DEMO_PROFILE)
    errors = prepared.errors()
    assert prepared.refused
    assert sorted(zip(errors["rule"], errors["field"], strict=True)) == [
        ("GTHD-CM-END", "cm_ndcode1"), ("GTHD-CM-END", "cm_ndcode2"),
        ("TOPO-END-OFF-SITE", "site_a"), ("TOPO-END-OFF-SITE", "site_b"),
    ]  # fmt: skip
    assert {c.removeprefix("TCN:") for c in errors["code"]} == {"CM000180032599"}


#: Mandatory at AVP (GraceTHD-Check's grid, all of sensitivity 3 « A corriger » in its
#: catalogue), empty in the delivery: the draft acceptance lists each one as a waived warning.
DEMO_UNKNOWN_AT_AVP = {
    "ad_hexaclv": 16, "ad_ietat": 1, "ad_nat": 1, "ad_nbprhab": 1, "ad_nbprpro": 1,
    "ad_numero": 1, "ad_racc": 2, "ad_rep": 15, "ad_typzone": 1, "bp_avct": 27, "cb_avct": 49,
    "cb_fo_disp": 31, "cb_fo_util": 49, "cb_nd1": 49, "cb_nd2": 49, "cb_typelog": 49,
    "cd_avct": 25, "cm_avct": 25, "cm_cddispo": 23, "cs_creadat": 1, "lt_elec": 2,
    "lt_local": 2, "lt_occp": 2, "or_siren": 6, "pt_avct": 9, "se_ad_code": 1, "se_anfr": 1,
    "se_haut": 1, "se_occp": 1, "sf_zp_code": 21, "st_avct": 2, "zc_nd_code": 1, "zc_prop": 1,
    "zp_capamax": 3, "zs_ad_code": 1, "zs_capamax": 1,
}  # fmt: skip
DEMO_WAIVED = sum(DEMO_UNKNOWN_AT_AVP.values()) + 1  # + the ZPBO overflowing its ZSRO


def test_gracethd_demo_after_the_documented_fix_is_accepted_as_a_draft(fixed_demo: Path) -> None:
    prepared = prepare_import([fixed_demo], profile=DEMO_PROFILE)
    assert not prepared.refused, prepared.errors().to_string()
    found = prepared.findings
    assert "phase MCO" not in " ".join(found["message"])  # checked at AVP (the profile)
    # every missing mandatory value is listed, field by field, as a waived warning
    required = _rows(found, "GTHD-FIELD-REQUIRED")
    assert required.groupby("field").size().to_dict() == DEMO_UNKNOWN_AT_AVP
    assert set(required["severity"]) == {"warning"}
    assert required["message"].str.endswith(WAIVED).all()
    assert required["check"].str.match(r"^\w+_1_r\d{5}$").all()  # GraceTHD-Check's r-checks
    # the ZPBO overflow: within the profile's 5 m draft bound, waived, its area still said
    nesting = _rows(found, "GTHD-ZONE-NESTING").iloc[0]
    assert (nesting["code"], nesting["check"], nesting["severity"]) == (
        "ZP000180030675", "zp_geom_1_m80015", "warning"
    )  # fmt: skip
    assert "27.9 m²" in nesting["message"] and nesting["message"].endswith(WAIVED)
    # the SRO node 1.08 m off its zone: « Informatif » in GraceTHD-Check's catalogue, a
    # warning for every delivery (not waived by the draft)
    far = _rows(found, "GTHD-ZONE-FAR").iloc[0]
    assert (far["code"], far["severity"]) == ("ZS000000000007", "warning")
    assert "1.08 m" in far["message"] and "Informatif" in far["message"]
    assert not far["message"].endswith(WAIVED)
    # one summary: accepted as a draft, why, how many findings waived
    draft = _rows(found, "GTHD-DRAFT")
    assert len(draft) == 1 and draft.iloc[0]["value"] == str(DEMO_WAIVED)
    assert f"{DEMO_WAIVED} constat(s) dérogé(s)" in draft.iloc[0]["message"]
    assert found["message"].str.endswith(WAIVED).sum() == DEMO_WAIVED
    # unknown stays unknown: no used-fibre count invented, progress left to the phase (AVP)
    segments = prepared.delivery.segments
    assert segments["fibres_used"].isna().all() and set(segments["status"]) == {"planned"}
    assert segments["fibre_count"].isna().any() and segments["fibre_count"].notna().any()


@pytest.mark.db
def test_gracethd_demo_loads_on_the_sample_and_reloads_unchanged(conn, fixed_demo: Path) -> None:
    assert import_paths(conn, [sample_gpkg()]).loaded
    first = import_paths(conn, [fixed_demo], profile=DEMO_PROFILE)
    assert first.status == "loaded", first.prepared.errors()
    assert first.summary.segments.as_dict()["added"] == 25
    # the batch says it was accepted as a draft, and keeps every waived finding
    note, kept = conn.execute(
        "SELECT note, findings FROM recor.import_batches WHERE id = %s", (first.summary.batch_id,)
    ).fetchone()
    assert "livraison acceptée en brouillon" in note and f"{DEMO_WAIVED} constat(s)" in note
    waived = [f for f in kept if str(f["message"]).endswith(WAIVED)]
    assert len(waived) == DEMO_WAIVED and kept[0]["rule"] == "GTHD-DRAFT"
    # unknown is not zero in the registry either
    segments = registry.read_segments(conn, status=None).set_index("code")
    ours = segments[segments.index.str.startswith("TCN:")]
    assert len(ours) == 25 and ours["fibres_used"].isna().all()
    again = import_paths(
        conn, [fixed_demo], profile=DEMO_PROFILE, replace_scope=ReplaceScope(code_prefix="TCN:")
    )
    assert again.status == "unchanged" and again.retired_codes()["sites"] == []
    codes = set(registry.read_segments(conn, status=None)["code"])
    assert {c for c in codes if c.startswith("TCN:")} == set(first.summary.segments.added)


def test_gracethd_demo_exports_with_its_delivered_codes_and_reloads_unchanged(
    conn, fixed_demo: Path, tmp_path: Path
) -> None:
    """The profile's code_prefix (TCN:) is taken off again: kept rows match registry rows."""
    first = import_paths(conn, [fixed_demo], profile=DEMO_PROFILE)
    assert first.status == "loaded", first.prepared.errors()
    kept = read_gracethd_tables(conn)
    assert kept["t_cheminement"].attrs["code_prefix"] == "TCN:"
    export = gracethd_export(
        kept, registry.read_sites(conn, status=None), registry.read_segments(conn, status=None)
    )
    paths, nodes = export.tables["t_cheminement"], export.tables["t_noeud"]
    delivered = kept["t_cheminement"].set_index("cm_code")
    # every delivered cheminement is exported as delivered, none as a registry-only row
    assert sorted(paths["cm_code"]) == sorted(delivered.index)
    assert (paths.set_index("cm_code")["cm_statut"] == delivered["cm_statut"]).all()
    assert not nodes["nd_code"].str.startswith("TCN:").any() and nodes["nd_code"].is_unique
    assert set(nodes["nd_code"]) == set(kept["t_noeud"]["nd_code"])
    out = tmp_path / "export"
    write_gracethd(export.tables, out, export.gaps)
    again = import_paths(conn, [out], profile=DEMO_PROFILE)
    assert again.status == "unchanged", again.summary.counts()


# -- the messy FTTH delivery -----------------------------------------------------------------


def test_messy_delivery_is_deterministic(tmp_path: Path) -> None:
    one = write_messy(build_messy(), tmp_path / "a")
    two = write_messy(build_messy(), tmp_path / "b")
    assert one["geojson"].read_bytes() == two["geojson"].read_bytes()
    for layer in ("cables", "pbo", "chambres", "tranchees", "fourreaux"):
        a = gpd.read_file(one["gpkg"], layer=layer)
        b = gpd.read_file(two["gpkg"], layer=layer)
        pd.testing.assert_frame_equal(a, b)
    assert len(build_messy(seed=5).cables) != len(build_messy().cables)


def test_messy_delivery_is_messy() -> None:
    messy = build_messy()
    cables = messy.cables
    assert len(cables) > 1_000
    assert cables["capacite"].isna().mean() > 0.1 and cables["fo_utilisees"].isna().mean() > 0.4
    assert {"tranchees", "fourreaux"} <= set(messy.layers)
    assert (messy.layers["pbo"]["statut"] == "PROJET").any()


@pytest.mark.db
def test_messy_delivery_loads_on_the_sample_with_its_profile(
    conn, messy_files: dict[str, Path]
) -> None:
    assert import_paths(conn, [sample_gpkg()]).loaded
    paths = [messy_files["gpkg"], messy_files["geojson"]]
    result = import_paths(conn, paths, profile=FTTH_PROFILE)
    assert result.status == "loaded", result.prepared.errors()
    findings = result.prepared.findings
    raw = build_messy()
    live = raw.cables[raw.cables["statut"] != "ABANDONNE"]
    # the trench and the duct layers (as many lines as the cables) are not imported
    assert result.summary.segments.as_dict()["added"] == len(live)
    assert list(_rows(findings, "SRC-LAYER-IGNORED")["value"]) == ["tranchees"]
    assert list(_rows(findings, "SRC-LAYER-SKIPPED")["file"]) == ["ftth_cher.gpkg!fourreaux"]
    filtered = _rows(findings, "PROFILE-ROWS-FILTERED").set_index("file")["value"]
    deleted = (raw.layers["chambres"]["etat"] == "SUPPRIME").sum()
    assert filtered["ftth_cher.gpkg!chambres"] == str(deleted)
    assert filtered["ftth_cher.gpkg!cables"] == str(len(raw.cables) - len(live))
    segments = registry.read_segments(conn, status=None).set_index("code")
    ours = segments[segments.index.str.startswith("THD18:")]
    # unknown stays unknown: as many unknown counts as empty capacities delivered
    assert ours["fibre_count"].isna().sum() == live["capacite"].isna().sum()
    assert ours["fibres_used"].isna().sum() == live["fo_utilisees"].isna().sum()
    # the trunks were tied by position to the regional PoPs they end on
    assert ours.loc["THD18:CB-00001", "site_b"] == "POP-BOURGES"
    # in-service cables on planned boxes: one warning per end, recomputed from the files
    status = pd.concat([raw.layers[n].set_index(f"id_{n}")["statut"] for n in ("sro", "pbo")])
    planned = set(status[status == "PROJET"].index)
    on_planned = live[(live["statut"] == "EN SERVICE")]
    expected = on_planned["extremite_a"].isin(planned).sum()
    expected += on_planned["extremite_b"].isin(planned).sum()
    assert len(_rows(findings, "TOPO-STATUS-MISMATCH")) == expected > 0
    # the stray branch is the one part tied to nothing
    parts = _rows(findings, "TOPO-DISCONNECTED")
    assert len(parts) == 1 and "THD18:PBO-ISOLE-1" in parts.iloc[0]["message"]


@pytest.mark.db
def test_messy_redelivery_with_replace_scope_retires_nothing(
    conn, messy_files: dict[str, Path]
) -> None:
    paths = [messy_files["gpkg"], messy_files["geojson"]]
    assert import_paths(conn, [sample_gpkg()]).loaded
    assert import_paths(conn, paths, profile=FTTH_PROFILE).loaded
    again = import_paths(
        conn, paths, profile=FTTH_PROFILE, replace_scope=ReplaceScope(source="ftth-cher")
    )
    assert again.status == "unchanged", again.prepared.errors()
    assert all(not codes for codes in again.retired_codes().values())


@pytest.mark.db
@pytest.mark.parametrize("delivery", ["gracethd", "messy"])
def test_identical_real_redelivery_short_cut_agrees_with_the_full_path(
    conn, fixed_demo: Path, messy_files: dict[str, Path], delivery: str
) -> None:
    """The answer given without reading equals the one read, checked and diffed again."""
    assert import_paths(conn, [sample_gpkg()]).loaded
    if delivery == "gracethd":
        paths, profile = [fixed_demo], DEMO_PROFILE
    else:
        paths, profile = [messy_files["gpkg"], messy_files["geojson"]], FTTH_PROFILE
    first = import_paths(conn, paths, profile=profile)
    assert first.status == "loaded", first.prepared.errors()
    quick = import_paths(conn, paths, profile=profile)
    assert quick.prepared.identical_to == first.summary.batch_id
    full = import_paths(conn, paths, profile=profile, recheck=True)
    assert quick.status == full.status == "unchanged", full.prepared.errors()
    assert quick.summary.counts() == full.summary.counts()
