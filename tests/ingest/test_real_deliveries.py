"""Real and real-looking deliveries: the GraceTHD demo of Touraine Cher Numérique (refused as
delivered, loaded after the documented fixes) and the messy FTTH delivery of the Cher."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from recor import registry
from recor.ingest.pipeline import import_paths, prepare_import
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
    # two cheminements without one of their node codes
    assert by_field["cm_ndcode1"] >= {"CM000180032598"}
    assert "CM200180032598" in by_field["cm_ndcode2"]
    # cable ends, mandatory from the AVP phase, empty
    assert len(by_field["cb_nd1"]) == 49 and len(by_field["cb_nd2"]) == 49
    # 26 one-fibre drop cables, outside GraceTHD's 2–780
    capacity = errors[errors["field"] == "cb_capafo"]
    assert len(capacity) == 26 and set(capacity["value"].astype(str)) == {"1"}
    # a drawn path that does not match its node codes
    off = errors[errors["code"] == "CM000180032599"]
    assert {"cm_ndcode1", "site_a", "site_b"} & set(off["field"]), off
    # cables in no duct: their fibres are counted on no segment (a warning, not an error)
    assert len(_rows(prepared.findings, "GTHD-CABLE-PATH")) >= 14


def test_gracethd_demo_after_the_documented_fixes_is_accepted(fixed_demo: Path) -> None:
    prepared = prepare_import([fixed_demo], profile=DEMO_PROFILE)
    assert not prepared.refused, prepared.errors()
    segments = prepared.delivery.segments
    assert len(segments) == 25 and segments["code"].str.startswith("TCN:CM").all()
    assert set(segments["source"]) == {"tcn-gracethd-demo01"}
    assert segments["site_a"].str.startswith("TCN:ND").all()
    # fibres: known where a cable runs in a duct of the cheminement, unknown elsewhere
    assert segments["fibre_count"].notna().any() and segments["fibre_count"].isna().any()
    assert set(segments["status"]) == {"planned"}  # cm_avct C: to be built (AVP)


@pytest.mark.db
def test_gracethd_demo_loads_on_the_sample_and_reloads_unchanged(conn, fixed_demo: Path) -> None:
    assert import_paths(conn, [sample_gpkg()]).loaded
    first = import_paths(conn, [fixed_demo], profile=DEMO_PROFILE)
    assert first.status == "loaded", first.prepared.errors()
    assert first.summary.segments.as_dict()["added"] == 25
    again = import_paths(
        conn, [fixed_demo], profile=DEMO_PROFILE, replace_scope=ReplaceScope(code_prefix="TCN:")
    )
    assert again.status == "unchanged" and again.retired_codes()["sites"] == []
    codes = set(registry.read_segments(conn, status=None)["code"])
    assert {c for c in codes if c.startswith("TCN:")} == set(first.summary.segments.added)


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
