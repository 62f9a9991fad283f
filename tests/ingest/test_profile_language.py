"""The profile language on real-looking layers: several rules per entity, unmatched layers,
``where:`` filters, missing columns, CSV geometry columns, code prefixes, ``extra.KEY``,
nested GeoJSON properties, repeatable ``--layer``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely

from recor.errors import ConfigurationError
from recor.ingest.pipeline import prepare_import
from recor.ingest.profiles import load_profile
from tests.ingest.ingest_builders import A_XY, B_XY, C_XY, segment_frame, site_frame

_PROFILE = """
name: presta-ftth
source: presta-ftth
code_prefix: "PF:"
ignore_layers: [zones]
layers:
  nro:
    entity: sites
    match: [nro]
    geometry: point
    fields:
      code: {from: [id_nro], required: true}
      kind: {default: pop}
      extra.insee: {from: [code_insee]}
  chambres:
    entity: sites
    match: [chambres]
    geometry: point
    where: {etat: {not_in: [SUPPRIME]}}
    fields:
      code: {from: [id_ch], required: true}
      kind: {default: chamber}
  troncons:
    entity: segments
    match: [troncons]
    geometry: line
    fields:
      code: {from: [id_tr]}
      site_a: {from: [origine]}
      site_b: {from: [extremite]}
      fibre_count: {from: [nb_fo]}
"""


def _write_profile(tmp_path: Path, text: str = _PROFILE) -> Path:
    path = tmp_path / "presta.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _ftth_delivery(tmp_path: Path) -> Path:
    """nro (A) -- T-1 -- chambre B -- T-2 -- chambre C; plus a trench layer and a zone layer.

    ``chambres`` also holds a deleted chamber D (etat SUPPRIME) that must not be imported.
    """
    gpkg = tmp_path / "ftth.gpkg"
    sites = site_frame()
    nro = sites.iloc[[0]][["geometry"]].assign(id_nro=["A"], code_insee=["45234"])
    chambers = sites.iloc[[1, 2]][["geometry"]].assign(id_ch=["B", "C"], etat=["E", "E"])
    deleted = chambers.iloc[[0]].assign(id_ch=["D"], etat=["SUPPRIME"])
    deleted["geometry"] = shapely.points([(621_000.0, 6_757_000.0)])
    segments = segment_frame()[["geometry"]].assign(
        id_tr=["T-1", "T-2"], origine=["A", "B"], extremite=["B", "C"], nb_fo=[48, None]
    )
    trench = segments[["geometry"]].assign(id_tranchee=["TR-1", "TR-2"])
    pyogrio.write_dataframe(nro, gpkg, layer="nro")
    pyogrio.write_dataframe(pd.concat([chambers, deleted]), gpkg, layer="chambres")
    pyogrio.write_dataframe(segments, gpkg, layer="troncons")
    pyogrio.write_dataframe(trench, gpkg, layer="tranchees")
    zone = sites.iloc[[0]][["geometry"]].assign(nom=["zone"])
    zone["geometry"] = shapely.buffer(zone.geometry.array, 10.0)
    pyogrio.write_dataframe(zone, gpkg, layer="zones")
    return gpkg


def _rules(prepared, rule: str) -> pd.DataFrame:
    return prepared.findings[prepared.findings["rule"] == rule]


def test_several_rules_per_entity_filters_prefix_and_extra_keys(tmp_path: Path) -> None:
    prepared = prepare_import([_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path))
    assert not prepared.refused, prepared.errors()
    sites = prepared.delivery.sites.set_index("code")
    assert sorted(sites.index) == ["PF:A", "PF:B", "PF:C"]  # D filtered out by where
    assert sites.loc["PF:A", "kind"] == "pop" and sites.loc["PF:B", "kind"] == "chamber"
    assert sites.loc["PF:A", "extra"] == {"insee": "45234"}
    segments = prepared.delivery.segments.set_index("code")
    assert list(segments.index) == ["PF:T-1", "PF:T-2"]
    assert list(segments["site_a"]) == ["PF:A", "PF:B"]
    assert segments.loc["PF:T-1", "fibre_count"] == 48
    assert pd.isna(segments.loc["PF:T-2", "fibre_count"])  # unknown stays unknown
    filtered = _rules(prepared, "PROFILE-ROWS-FILTERED")
    assert list(filtered["value"]) == ["1"] and "etat" in filtered.iloc[0]["message"]


def test_layer_matched_by_no_rule_is_reported_and_not_imported(tmp_path: Path) -> None:
    """A trench layer (lines, like segments) must not become duplicate segments."""
    prepared = prepare_import([_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path))
    ignored = _rules(prepared, "SRC-LAYER-IGNORED")
    assert list(ignored["value"]) == ["tranchees"]
    assert ignored.iloc[0]["severity"] == "warning"
    assert len(prepared.delivery.segments) == 2
    skipped = _rules(prepared, "SRC-LAYER-SKIPPED")
    assert list(skipped["file"]) == ["ftth.gpkg!zones"]


def test_unmatched_layers_by_geometry_only_when_the_profile_says_so(tmp_path: Path) -> None:
    text = _PROFILE.replace("ignore_layers: [zones]", "ignore_layers: [zones, nro, chambres]")
    text = text.replace("code_prefix", "unmatched_layers: by_geometry\ncode_prefix")
    text = text.replace("match: [troncons]", "match: [autre]")
    prepared = prepare_import([_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path, text))
    files = set(prepared.findings["file"])
    assert "ftth.gpkg!tranchees" in files and not len(_rules(prepared, "SRC-LAYER-IGNORED"))
    # troncons and tranchees, both lines, both taken as segments: what `report` prevents
    assert prepared.delivery is not None and len(prepared.delivery.segments) >= 2


def test_missing_source_column_is_one_error_naming_profile_layer_and_column(
    tmp_path: Path,
) -> None:
    text = _PROFILE.replace("code: {from: [id_tr]}", "code: {from: [id_troncon], required: true}")
    prepared = prepare_import([_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path, text))
    missing = _rules(prepared, "PROFILE-COLUMN-MISSING")
    assert len(missing) == 1, missing
    row = missing.iloc[0]
    assert row["file"] == "ftth.gpkg!troncons" and row["field"] == "code"
    assert "presta-ftth" in row["message"] and "layers.troncons" in row["message"]
    assert "id_troncon" in row["message"] and "id_tr" in row["message"]  # present ones listed
    assert not len(_rules(prepared, "ATTR-REQUIRED"))  # not one per feature
    assert prepared.refused


def test_optional_column_named_but_absent_is_one_warning(tmp_path: Path) -> None:
    text = _PROFILE.replace("fibre_count: {from: [nb_fo]}", "fibre_count: {from: [capacite]}")
    prepared = prepare_import([_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path, text))
    absent = _rules(prepared, "PROFILE-COLUMN-ABSENT")
    assert len(absent) == 1 and absent.iloc[0]["field"] == "fibre_count"
    assert not prepared.refused
    assert prepared.delivery.segments["fibre_count"].isna().all()


def test_where_on_a_missing_column_is_one_error(tmp_path: Path) -> None:
    text = _PROFILE.replace("where: {etat:", "where: {statut:")
    prepared = prepare_import([_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path, text))
    missing = _rules(prepared, "PROFILE-COLUMN-MISSING")
    assert list(missing["value"]) == ["statut"] and list(missing["field"]) == ["where"]


def test_repeatable_layer_option_reads_only_those_layers(tmp_path: Path) -> None:
    prepared = prepare_import(
        [_ftth_delivery(tmp_path)], profile=_write_profile(tmp_path), layer=["nro", "CHAMBRES"]
    )
    assert sorted(prepared.delivery.sites["code"]) == ["PF:A", "PF:B", "PF:C"]
    assert not len(prepared.delivery.segments)
    assert not len(_rules(prepared, "SRC-LAYER-IGNORED"))
    unknown = prepare_import([_ftth_delivery(tmp_path)], layer=["nro", "fourreaux"])
    assert list(_rules(unknown, "SRC-NOT-FOUND")["value"]) == ["fourreaux"]


@pytest.mark.parametrize("form", ["wkt", "xy"])
def test_csv_geometry_columns_named_in_the_profile(tmp_path: Path, form: str) -> None:
    points = {"S-A": A_XY, "S-B": B_XY, "S-C": C_XY}
    table = pd.DataFrame({"ident": list(points), "x": [1, 2, 3], "y": [4, 5, 6]})
    if form == "wkt":
        table["trace"] = [f"POINT ({x} {y})" for x, y in points.values()]
        geometry = "csv_geometry: {wkt: trace}"
    else:
        table["coord_e"] = [str(x).replace(".", ",") for x, _ in points.values()]
        table["coord_n"] = [y for _, y in points.values()]
        geometry = "csv_geometry: {x: coord_e, y: coord_n}"
    path = tmp_path / "points.csv"
    table.to_csv(path, sep=";", index=False)
    profile = _write_profile(
        tmp_path,
        f"""
name: csv
layers:
  sites:
    match: [points]
    geometry: point
    crs: 2154
    {geometry}
    fields:
      code: {{from: [ident]}}
""",
    )
    prepared = prepare_import([path], profile=profile)
    sites = prepared.delivery.sites.set_index("code")
    assert sites.loc["S-B"].geometry.equals(shapely.Point(B_XY))
    # x and y are attributes here, not coordinates: kept in extra
    assert sites.loc["S-B", "extra"] == {"x": "2", "y": "5"}


def test_csv_geometry_column_missing_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    pd.DataFrame({"ident": ["S-A"], "wkt": [f"POINT ({A_XY[0]} {A_XY[1]})"]}).to_csv(
        path, sep=";", index=False
    )
    profile = _write_profile(
        tmp_path,
        "name: csv\nlayers:\n  sites:\n    match: [points]\n    geometry: point\n"
        "    crs: 2154\n    csv_geometry: {wkt: trace}\n    fields:\n      code: {from: [ident]}\n",
    )
    prepared = prepare_import([path], profile=profile)
    missing = _rules(prepared, "PROFILE-COLUMN-MISSING")
    assert list(missing["field"]) == ["csv_geometry"] and "trace" in missing.iloc[0]["message"]


def test_nested_geojson_properties_and_arrays_are_stored_as_json(tmp_path: Path) -> None:
    features = []
    for code, (x, y) in (("S-A", A_XY), ("S-B", B_XY)):
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {
                "code": code,
                "adresse": {"voie": "rue de la Loire", "numero": 3},
                "tags": ["nro", "hebergement"],
                "capacites": [12, 24],
            },
        })  # fmt: skip
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
        "features": features,
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    prepared = prepare_import([path])
    extra = prepared.delivery.sites.set_index("code").loc["S-A", "extra"]
    assert extra["adresse"] == {"voie": "rue de la Loire", "numero": 3}
    assert extra["tags"] == ["nro", "hebergement"] and extra["capacites"] == [12, 24]
    json.dumps(extra)  # plain JSON, no numpy or Python repr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nlayers:\n  a:\n    entity: pipes\n", "unknown entity"),
        ("name: x\nlayers:\n  a:\n    entity: sites\n    where: {etat: {like: E}}\n", "like"),
        ("name: x\nlayers:\n  sites:\n    csv_geometry: {lon: x}\n", "csv_geometry"),
        ("name: x\nlayers:\n  sites:\n    crs: EPSG:99999\n", "no CRS"),
        ("name: x\nunmatched_layers: guess\n", "unmatched_layers"),
        ("name: x\nlayers:\n  sites:\n    fields:\n      name: {prefix: A}\n", "prefix"),
        ("name: x\ncolour: red\n", "unknown keys"),
    ],
)
def test_malformed_profile_language_says_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_profile(_write_profile(tmp_path, text))


def test_profile_extends_a_builtin(tmp_path: Path) -> None:
    text = "name: demo\nextends: gracethd-v2\nsource: demo\ncode_prefix: D-\n"
    profile = load_profile(_write_profile(tmp_path, text))
    base = load_profile("gracethd-v2")
    assert profile.format == "gracethd-v2" and profile.options == base.options
    assert (profile.source, profile.code_prefix) == ("demo", "D-")
