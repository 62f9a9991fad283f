"""Open data: the network in the Open Fibre Data Standard (OFDS 0.3).

:func:`ofds_network` builds one OFDS network (nodes, spans, organisations) from a snapshot;
:func:`ofds_geojson` turns it into the standard's GeoJSON ``nodes``/``spans`` collections;
:func:`write_ofds` writes the JSON package and both GeoJSON files. The ``public`` level (the
default of a publication) applies the map rules of :mod:`recor.maps.privacy`: CHATON nodes
at the centre of their grid cell and their spans cut at its edge, chambers and junctions left
out (a span ending at one gives no ``start``/``end`` for that end), CHATON node ids named
after their cell rather than their code, only public attributes; the network's
``accuracyDetails`` says so. Unknown values (fibre counts, dates, owners) are left out,
never given as 0.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from recor.domain import SiteKind, Status
from recor.export.snapshot import Snapshot
from recor.maps.privacy import Level, publishable

__all__ = [
    "OFDS_SCHEMA_URL",
    "ofds_geojson",
    "ofds_network",
    "write_ofds",
]

#: The first link of every OFDS network: the schema it follows.
OFDS_SCHEMA_URL = (
    "https://raw.githubusercontent.com/Open-Telecoms-Data/open-fibre-data-standard/"
    "0__3__0/schema/network-schema.json"
)

_CRS84 = {
    "name": "urn:ogc:def:crs:OGC::CRS84",
    "uri": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
}

#: Registry lifecycle → OFDS node/span status (closed codelists).
_STATUS = {
    Status.PLANNED: "planned",
    Status.UNDER_CONSTRUCTION: "underConstruction",
    Status.IN_SERVICE: "operational",
    Status.OUT_OF_SERVICE: "inactive",
    Status.ABANDONED: "decommissioned",
}

#: Site kind → OFDS node type (open codelist); kinds absent here get no type.
_NODE_TYPE = {
    SiteKind.DATACENTRE: ["dataCentre"],
    SiteKind.POP: ["pop"],
    SiteKind.JUNCTION: ["aggregationPoint"],
}

#: Installation → OFDS deployment (closed codelist); ``other`` is unknown.
_DEPLOYMENT = {
    "duct": ["belowGround"],
    "buried": ["belowGround"],
    "aerial": ["aboveGround"],
    "facade": ["aboveGround"],
}

_NETWORK_NAMESPACE = uuid.UUID("6f1c9e52-3d0a-5b8e-9c41-72a5e0d4b3f1")


def ofds_network(
    snapshot: Snapshot,
    *,
    level: Level = "public",
    coarsen_m: float = 2000.0,
    name: str = "RECOR – réseau régional de fibre noire de Centre-Val de Loire",
    publisher: str = "GIP RECIA",
    published: datetime | None = None,
) -> dict[str, Any]:
    """The registry snapshot as one OFDS network object (JSON-ready).

    Parameters
    ----------
    snapshot
        What to publish (:func:`recor.export.snapshot.read_snapshot`).
    level
        ``public`` (CHATON nodes coarsened, chambers, junctions and internal attributes
        left out) or ``internal`` (everything the standard can carry).
    coarsen_m
        Grid cell of the public CHATON positions (``MapSettings.public_coarsen_m``).
    name, publisher
        Name of the network and of its publisher.
    published
        Publication time (default: now).
    """
    published = published or datetime.now(UTC)
    sites, segments = snapshot.sites, snapshot.segments
    if level == "public":
        shown_sites, shown_segments = publishable(sites, segments, coarsen_m=coarsen_m)
    else:
        shown_sites, shown_segments = sites, segments
    organisations = _organisations(shown_segments)
    node_ids = _node_ids(sites.loc[shown_sites.index], level, coarsen_m)
    nodes = _nodes(sites.loc[shown_sites.index], shown_sites, node_ids)
    spans = _spans(
        segments.loc[shown_segments.index], shown_segments, node_ids, organisations, level
    )
    network: dict[str, Any] = {
        "id": str(uuid.uuid5(_NETWORK_NAMESPACE, f"recor/{level}")),
        "name": name if level == "public" else f"{name} (niveau interne)",
        "nodes": nodes,
        "spans": spans,
        "publisher": {"name": publisher},
        "publicationDate": published.date().isoformat(),
        "crs": dict(_CRS84),
        "accuracyDetails": _accuracy_details(level, coarsen_m, snapshot),
        "language": "fr",
        "links": [{"rel": "describedby", "href": OFDS_SCHEMA_URL}],
    }
    if organisations:
        network["organisations"] = [
            {"id": oid, "name": oname, "roles": sorted(roles)}
            for oname, (oid, roles) in sorted(organisations.items(), key=lambda kv: kv[1][0])
        ]
    if snapshot.version.loaded_at is not None:
        collected = snapshot.as_of or snapshot.version.loaded_at
        network["collectionDate"] = collected.date().isoformat()
    return network


def ofds_geojson(network: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The standard's GeoJSON form of a network: (nodes, spans) FeatureCollections.

    Each feature carries its object's fields as properties (location/route as geometry),
    references expanded to the objects they name, the network's metadata in ``network``
    and ``featureType`` ``node`` or ``span``.
    """
    meta = {k: v for k, v in network.items() if k not in ("nodes", "spans")}
    orgs = {o["id"]: o for o in network.get("organisations", [])}
    nodes_by_id = {n["id"]: n for n in network["nodes"]}

    # Shallow copies sharing the expanded objects: the collections are only serialised.
    def expand(obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        for key in ("physicalInfrastructureProvider", "supplier"):
            if key in out:
                out[key] = orgs.get(out[key]["id"], out[key])
        if "networkProviders" in out:
            out["networkProviders"] = [orgs.get(o["id"], o) for o in out["networkProviders"]]
        return out

    node_features = []
    for node in network["nodes"]:
        props = expand(node)
        geometry = props.pop("location", None)
        props |= {"network": meta, "featureType": "node"}
        node_features.append({"type": "Feature", "geometry": geometry, "properties": props})
    span_features = []
    for span in network["spans"]:
        props = expand(span)
        geometry = props.pop("route", None)
        for end in ("start", "end"):
            if end in props:
                props[end] = nodes_by_id[props[end]]
        props |= {"network": meta, "featureType": "span"}
        span_features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return (
        {"type": "FeatureCollection", "features": node_features},
        {"type": "FeatureCollection", "features": span_features},
    )


def write_ofds(network: dict[str, Any], folder: Path | str) -> dict[str, Path]:
    """Write ``network-package.json``, ``nodes.geojson`` and ``spans.geojson`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nodes, spans = ofds_geojson(network)
    paths = {
        "package": folder / "network-package.json",
        "nodes": folder / "nodes.geojson",
        "spans": folder / "spans.geojson",
    }
    documents = {"package": {"networks": [network]}, "nodes": nodes, "spans": spans}
    for key, path in paths.items():
        with path.open("w", encoding="utf-8") as out:
            if key == "package":
                out.write(_dumps(documents[key]))
                continue
            # One feature at a time: the C encoder's speed without the whole file in memory.
            out.write('{"type":"FeatureCollection","features":[')
            for index, feature in enumerate(documents[key]["features"]):
                out.write(("," if index else "") + _dumps(feature))
            out.write("]}")
    return paths


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _accuracy_details(level: Level, coarsen_m: float, snapshot: Snapshot) -> str:
    text = (
        f"Registre RECOR, version des données : {snapshot.version.label()}."
        " Positions relevées en Lambert-93 (EPSG:2154), publiées en WGS84 (CRS84)."
    )
    if level == "public":
        text += (
            f" Publication de niveau public : les nœuds CHATON (souvent le domicile d'un"
            f" bénévole) sont placés au centre de leur maille de {coarsen_m / 1000:g} km et"
            " leurs tronçons s'arrêtent au bord de cette maille ; les chambres et jonctions"
            " (détail des fourreaux) ne sont pas publiées (un tronçon qui y aboutit n'a pas"
            " d'extrémité start/end de ce côté) ; les nœuds CHATON sont identifiés par leur"
            " maille, non par leur code ; seuls les attributs publics sont donnés."
        )
    else:
        text += " Niveau interne : toutes les positions et attributs, à ne pas publier."
    return text


def _lonlat(geometries: gpd.GeoSeries) -> list[Any]:
    return list(geometries.to_crs(4326).to_numpy())


def _point(geom: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(geom.x, 7), round(geom.y, 7)]}


def _route(geom: Any) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    if not isinstance(geom, LineString):
        merged = shapely.line_merge(geom)
        parts = list(getattr(merged, "geoms", [merged]))
        # OFDS routes are single LineStrings: keep the longest piece outside CHATON cells.
        geom = max(parts, key=lambda p: p.length)
    coords = np.round(shapely.get_coordinates(geom), 7).tolist()
    return {"type": "LineString", "coordinates": coords}


def _node_ids(sites: gpd.GeoDataFrame, level: Level, coarsen_m: float) -> dict[str, str]:
    """Site code → OFDS node id: the code, except public CHATON nodes (named by their cell)."""
    ids = {str(code): str(code) for code in sites["code"]}
    if level != "public":
        return ids
    chaton = sites[sites["kind"] == SiteKind.CHATON]
    cells = np.floor(shapely.get_coordinates(chaton.geometry.to_numpy()) / coarsen_m)
    seen: dict[str, int] = {}
    for code, (cx, cy) in zip(chaton["code"], cells.astype(int).tolist(), strict=True):
        base = f"CHATON-{cx}-{cy}"
        seen[base] = seen.get(base, 0) + 1
        ids[str(code)] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return ids


def _nodes(
    original: gpd.GeoDataFrame, shown: gpd.GeoDataFrame, node_ids: dict[str, str]
) -> list[dict]:
    locations = _lonlat(shown.geometry)
    labels = shown["name"].tolist() if "name" in shown.columns else [None] * len(shown)
    rows = _records(original, ("code", "name", "status", "kind"))
    nodes = []
    for row, shown_name, geom in zip(rows, labels, locations, strict=True):
        node: dict[str, Any] = {"id": node_ids[str(row["code"])]}
        label = shown_name or row["name"]
        if label:
            node["name"] = str(label)
        if row["status"] in _STATUS:
            node["status"] = _STATUS[row["status"]]
        node["location"] = _point(geom)
        if row["kind"] in _NODE_TYPE:
            node["type"] = list(_NODE_TYPE[row["kind"]])
        nodes.append(node)
    return nodes


def _spans(
    original: gpd.GeoDataFrame,
    shown: gpd.GeoDataFrame,
    node_ids: dict[str, str],
    organisations: dict[str, tuple[str, set[str]]],
    level: Level,
) -> list[dict]:
    routes = _lonlat(shown.geometry)
    columns = ("code", "status", "site_a", "site_b", "fibre_count", "length_m", "owner",
               "operator", "installation", "commissioned_on", "cable_type")  # fmt: skip
    spans = []
    for row, geom in zip(_records(original, columns), routes, strict=True):
        route = _route(geom)
        if route is None:
            continue
        span: dict[str, Any] = {"id": str(row["code"]), "name": _span_name(row)}
        if row["status"] in _STATUS:
            span["status"] = _STATUS[row["status"]]
        for end, column in (("start", "site_a"), ("end", "site_b")):
            if row[column] in node_ids:
                span[end] = node_ids[row[column]]
        span["directed"] = False
        span["route"] = route
        span["darkFibre"] = True
        span["transmissionMedium"] = ["fibre"]
        if not pd.isna(row["fibre_count"]):
            span["fibreCount"] = int(row["fibre_count"])
        span["fibreLength"] = round(float(row["length_m"]) / 1000.0, 3)
        if row["owner"]:
            span["physicalInfrastructureProvider"] = {
                "id": organisations[row["owner"]][0],
                "name": row["owner"],
            }
        if row["operator"]:
            span["networkProviders"] = [
                {"id": organisations[row["operator"]][0], "name": row["operator"]}
            ]
        if level == "internal":
            _internal_span_fields(span, row)
        spans.append(span)
    return spans


def _records(frame: gpd.GeoDataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as plain dicts (much faster than ``iterrows`` on large networks)."""
    return pd.DataFrame(frame[list(columns)]).to_dict("records")


def _internal_span_fields(span: dict[str, Any], row: dict[str, Any]) -> None:
    if row["installation"] in _DEPLOYMENT:
        span["deployment"] = list(_DEPLOYMENT[row["installation"]])
    if not pd.isna(row["commissioned_on"]) and row["commissioned_on"] is not None:
        span["readyForServiceDate"] = pd.Timestamp(row["commissioned_on"]).date().isoformat()
    if row["cable_type"]:
        span["fibreTypeDetails"] = {"description": str(row["cable_type"])}


def _span_name(row: dict[str, Any]) -> str:
    return f"Tronçon {row['code']}"


def _org_key(name: str) -> str:
    return "org-" + uuid.uuid5(_NETWORK_NAMESPACE, f"organisation/{name}").hex[:12]


def _organisations(segments: gpd.GeoDataFrame) -> dict[str, tuple[str, set[str]]]:
    """Organisation name → (id, OFDS roles), from the owners and operators of the spans."""
    found: dict[str, tuple[str, set[str]]] = {}
    for column, role in (
        ("owner", "physicalInfrastructureProvider"),
        ("operator", "networkProvider"),
    ):
        if column not in segments.columns:
            continue
        for value in segments[column].dropna().unique():
            if value:
                found.setdefault(str(value), (_org_key(str(value)), set()))[1].add(role)
    return found
