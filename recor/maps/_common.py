"""Pieces shared by the map builders: display columns, popups, background, bounds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from recor.config import MapSettings
from recor.domain import INSTALLATION_LABELS_FR, SITE_KIND_LABELS_FR, STATUS_LABELS_FR
from recor.maps.document import LayerSpec, make_layer
from recor.maps.encode import remember_geometries
from recor.maps.styles import (
    capacity_classes,
    line_classes,
    site_style,
)

__all__ = [
    "COMMUNE_POPUP",
    "SEGMENT_POPUP",
    "SITE_POPUP",
    "background_layers",
    "bounds_of",
    "commune_fields",
    "display_segments",
    "display_sites",
    "popup_fields",
    "provenance_rows",
    "segment_layers",
    "site_layers",
    "site_search",
    "with_commune_details",
]

#: Layer names read "Tronçons : <état>", so the adjective agrees with the plural noun.
_STATUS_PLURAL_FR = {"abandoned": "abandonnés"}

#: Popup rows of a segment: (column, French label); absent columns are skipped.
SEGMENT_POPUP: tuple[tuple[str, str], ...] = (
    ("code", "Code"),
    ("status_fr", "État"),
    ("fibre_count", "Fibres"),
    ("fibres_used", "Fibres utilisées"),
    ("free_fibres", "Fibres libres"),
    ("length_km", "Longueur (km)"),
    ("cable_type", "Câble"),
    ("installation_fr", "Pose"),
    ("site_a", "Extrémité A"),
    ("site_b", "Extrémité B"),
    ("owner", "Propriétaire"),
    ("operator", "Exploitant"),
    ("commissioned_on", "Mise en service"),
    ("risk_groups", "Groupes de risque partagé"),
    ("source", "Source"),
    ("extra", "Autres attributs"),
)

#: What a popup says when a value is missing: unknown, except where missing means none.
UNKNOWN_FR = "inconnu"
_MISSING_FR: dict[str, str] = {
    "risk_groups": "aucun",
    "extra": "aucun",
    "commissioned_on": "inconnue",
    "installation_fr": "inconnue",
    "source": "inconnue",
}

#: Popup rows of a site.
SITE_POPUP: tuple[tuple[str, str], ...] = (
    ("code", "Code"),
    ("kind_fr", "Type"),
    ("status_fr", "État"),
    ("operator", "Exploitant"),
    ("source", "Source"),
    ("extra", "Autres attributs"),
)


def _label(series: pd.Series, labels: Mapping[str, str]) -> pd.Series:
    return series.map(lambda v: labels.get(v, v) if isinstance(v, str) else v)


def display_segments(segments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Segments with French labels and kilometres added for popups (input unchanged)."""
    out = segments.copy()
    if "status" in out:
        out["status_fr"] = _label(out["status"], STATUS_LABELS_FR)
    if "installation" in out:
        out["installation_fr"] = _label(out["installation"], INSTALLATION_LABELS_FR)
    if "fibre_count" in out and "fibres_used" in out:
        count = pd.to_numeric(out["fibre_count"], errors="coerce").astype("Float64")
        used = pd.to_numeric(out["fibres_used"], errors="coerce").astype("Float64")
        # unknown usage is not zero used: the free fibres are then unknown too
        out["free_fibres"] = (count - used).astype("Int64")
    length = out.get("length_m", out.geometry.length)
    out["length_km"] = np.round(pd.to_numeric(length, errors="coerce") / 1000.0, 2)
    if "commissioned_on" in out:
        # a calendar date, written as a French reader expects it: 01/04/2018
        out["commissioned_on"] = out["commissioned_on"].map(
            lambda v: None if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%d/%m/%Y")
        )
    return out


def display_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sites with French labels added for popups (input unchanged)."""
    out = sites.copy()
    out["kind_fr"] = _label(out["kind"], SITE_KIND_LABELS_FR)
    if "status" in out:
        out["status_fr"] = _label(out["status"], STATUS_LABELS_FR)
    return out


def popup_fields(
    frame: pd.DataFrame, rows: tuple[tuple[str, str], ...]
) -> list[tuple[str, str, str]]:
    """Popup rows present in ``frame``: (column, French label, text shown when missing)."""
    return [
        (column, label, _MISSING_FR.get(column, UNKNOWN_FR))
        for column, label in rows
        if column in frame.columns
    ]


def segment_layers(
    segments: gpd.GeoDataFrame, settings: MapSettings, *, prefix: str = "segments"
) -> list[LayerSpec]:
    """One layer per status, coloured by status, line width by fibre capacity."""
    remember_geometries(segments.geometry, tolerance_m=settings.simplify_m)
    shown = display_segments(segments)
    fields = popup_fields(shown, SEGMENT_POPUP)
    layers = []
    breaks = tuple(int(b) for b in settings.capacity_breaks)
    for status in STATUS_LABELS_FR:
        part = shown[shown["status"] == status]
        if part.empty:
            continue
        classes = capacity_classes(part["fibre_count"], breaks, settings.capacity_widths)
        layers.append(
            make_layer(
                f"{prefix}-{status}",
                f"Tronçons : {_STATUS_PLURAL_FR.get(status, STATUS_LABELS_FR[status].lower())}",
                part,
                kind="line",
                classes=line_classes(status, settings.capacity_widths),
                style_class=pd.Series(classes),
                popup_title="code" if "code" in part else "status_fr",
                popup_fields=fields,
                tolerance_m=settings.simplify_m,
                show=status != "abandoned",
                bulk=len(part) > settings.overview_max_points,
            )
        )
    return layers


def site_layers(
    sites: gpd.GeoDataFrame, settings: MapSettings, *, prefix: str = "sites"
) -> list[LayerSpec]:
    """One layer per site kind with its own symbol; big layers only when zoomed in."""
    remember_geometries(sites.geometry)
    shown = display_sites(sites)
    fields = popup_fields(shown, SITE_POPUP)
    layers = []
    for kind, label in SITE_KIND_LABELS_FR.items():
        part = shown[shown["kind"] == kind]
        if part.empty:
            continue
        style = site_style(kind)
        large = len(part) > settings.overview_max_points
        if large:
            style = {**style, "shape": "circle", "radius": style.get("radius", 3)}
        layers.append(
            make_layer(
                f"{prefix}-{kind}",
                label,
                part,
                kind="point",
                classes=[style],
                popup_title="name",
                popup_fields=fields,
                min_zoom=settings.detail_min_zoom if large else None,
                bulk=large,
            )
        )
    return layers


#: Popup rows of a commune (absent columns skipped; unknown population says so).
COMMUNE_POPUP: tuple[tuple[str, str], ...] = (
    ("code", "Code INSEE"),
    ("departement_fr", "Département"),
    ("population", "Population"),
    ("epci_name", "EPCI"),
)


def with_commune_details(
    communes: gpd.GeoDataFrame, departements: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """Communes with ``departement_fr`` ("Loiret (45)") and ``detail_fr`` for the search."""
    out = communes.copy()
    names = {}
    if departements is not None and not departements.empty:
        names = dict(zip(departements["code"].astype(str), departements["name"], strict=False))
    dept = out["code"].astype(str).str[:2]
    out["departement_fr"] = [f"{names[d]} ({d})" if d in names else d for d in dept]
    out["detail_fr"] = out["code"].astype(str) + " · " + out["departement_fr"]
    return out


def commune_fields(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Popup rows of communes present in ``frame``."""
    return popup_fields(frame, COMMUNE_POPUP)


def background_layers(
    boundaries: Mapping[str, gpd.GeoDataFrame],
    settings: MapSettings,
    *,
    communes: bool = True,
) -> list[LayerSpec]:
    """Administrative context drawn as the background (no tile server needed).

    Communes (clickable: code, département, population, EPCI), EPCI, département and
    region borders, and the communes' names by zoom and population. ``communes=False``
    leaves the commune polygons out (a map whose units are the communes draws its own) but
    keeps their names. Cantons and arrondissements, when imported, are overlays off by
    default (grey, each with its own dash pattern, so they print in black and white).
    """
    styles = {
        "communes": {"color": "#858585", "weight": 0.5, "fillOpacity": 0},
        "cantons": {"color": "#6b6b6b", "weight": 1, "dashArray": "2 3", "fill": False},
        "arrondissements": {
            "color": "#4d4d4d",
            "weight": 1.6,
            "dashArray": "10 4 2 4",
            "fill": False,
        },
        "epci": {"color": "#6a3d9a", "weight": 1, "dashArray": "6 3", "fill": False},
        "departements": {"color": "#424242", "weight": 2, "fill": False},
        "region": {"color": "#000000", "weight": 2.5, "fill": False},
    }
    names = {
        "communes": "Communes",
        "cantons": "Cantons",
        "arrondissements": "Arrondissements",
        "epci": "EPCI (intercommunalités)",
        "departements": "Départements",
        "region": "Région",
    }
    layers = []
    overlays = ("cantons", "arrondissements")
    for kind in ("communes", *overlays, "epci", "departements", "region"):
        frame = boundaries.get(kind)
        if frame is None or frame.empty or (kind == "communes" and not communes):
            continue
        fields: list[tuple[str, str, str]] = []
        data: tuple[str, ...] = ()
        interactive = False
        if kind == "communes":
            frame = with_commune_details(frame, boundaries.get("departements"))
            fields = commune_fields(frame)
            data = ("name", "code", "detail_fr")
            interactive = True
        elif kind == "epci":
            data = ("name", "code", "population")
        layers.append(
            make_layer(
                f"reference-{kind}",
                f"Fond : {names[kind]}" if kind != "epci" else names[kind],
                frame,
                kind="polygon",
                classes=[{**styles[kind], "interactive": interactive}],
                popup_title="name" if fields else None,
                popup_fields=fields,
                tolerance_m=settings.boundary_simplify_m,
                interactive=interactive,
                data_columns=data,
                show=kind not in overlays,
                # in bulk whatever their size: a Leaflet polygon re-projects each of its
                # vertices as an object at every zoom (the EPCI and départements repeat
                # the communes' borders: 100,000 vertices)
                bulk=True,
            )
        )
    labels = boundaries.get("communes")
    if labels is not None and not labels.empty and "label_zoom" in labels:
        points = gpd.GeoDataFrame(
            labels[["name", "label_zoom", "population"]],
            geometry=labels.geometry.representative_point(),
            crs=labels.crs,
        )
        layers.append(
            make_layer(
                "labels",
                "Noms des communes",
                points,
                kind="label",
                classes=[{}],
                data_columns=("name", "label_zoom", "population"),
            )
        )
    return layers


#: Step of the densified box edges reprojected by :func:`bounds_of` (metres).
_BOX_STEP_M = 1000.0


def bounds_of(*frames: gpd.GeoDataFrame | None) -> tuple[tuple[float, float], tuple[float, float]]:
    """South-west and north-east corners (lat, lng) of the frames' features."""
    boxes = []
    for frame in frames:
        if frame is None or frame.empty:
            continue
        if frame.crs is None or frame.crs.to_epsg() == 4326:
            boxes.append(frame.total_bounds)
            continue
        # the frame's box, its edges densified, in WGS84: it holds every feature, and
        # reprojecting 200,000 features for four numbers took seconds
        xmin, ymin, xmax, ymax = frame.total_bounds
        # a metre around, so that one point still makes a box
        box = shapely.box(xmin - 1, ymin - 1, xmax + 1, ymax + 1)
        edges = shapely.segmentize(box, _BOX_STEP_M)
        boxes.append(gpd.GeoSeries([edges], crs=frame.crs).to_crs(4326).total_bounds)
    if not boxes:
        # the region, when there is nothing to show
        return ((46.35, 0.05), (48.95, 3.13))
    b = np.array(boxes)
    return (
        (float(b[:, 1].min()), float(b[:, 0].min())),
        (float(b[:, 3].max()), float(b[:, 2].max())),
    )


def provenance_rows(
    version: str,
    parameters: Mapping[str, Any],
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> list[tuple[str, str]]:
    """Rows of the provenance box: data version, parameters, and how the communes of the
    boundaries were reconciled with the official geographic code (when they were)."""
    rows = [("Version des données", version)]
    rows.extend((str(k), _text(v)) for k, v in parameters.items())
    communes = (boundaries or {}).get("communes")
    if communes is not None and communes.attrs.get("reconciliation"):
        rows.append(("Communes (COG actuel)", communes.attrs["reconciliation"]))
        reconciled = communes.attrs.get("reconciled")
        if reconciled is not None:
            guessed = reconciled[reconciled["match"] == "border"]
            if len(guessed):
                rows.append(
                    (
                        "Rattachements devinés par la frontière",
                        ", ".join(
                            f"{r.polygon_name} ({r.polygon_code}) → {r.current_code}"
                            for r in guessed.itertuples()
                        ),
                    )
                )
    return rows


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def site_search(layers: list[LayerSpec]) -> dict[str, Any]:
    """One ranked search over communes (name, INSEE code), EPCI (name, SIREN) and sites
    (name, code) of the page's layers."""
    sources: list[dict[str, Any]] = []
    for layer in layers:
        if layer.id in ("reference-communes", "units") and "detail_fr" in layer.cols:
            sources.append(
                {
                    "layer": layer.id,
                    "keys": ["name", "code"],
                    "title": "name",
                    "detail": "detail_fr",
                    "weight": "population" if "population" in layer.cols else None,
                    "kind": "Maille" if layer.name.startswith("Maille") else "Commune",
                }
            )
        elif layer.id == "reference-epci" and "population" in layer.cols:
            sources.append(
                {
                    "layer": layer.id,
                    "keys": ["name", "code"],
                    "title": "name",
                    "detail": "code",
                    "weight": "population",
                    "kind": "EPCI",
                }
            )
    for layer in layers:
        if layer.kind == "point" and layer.popup and "name" in layer.cols:
            sources.append(
                {
                    "layer": layer.id,
                    "keys": ["name", "code"] if "code" in layer.cols else ["name"],
                    "title": "name",
                    "detail": "code" if "code" in layer.cols else None,
                    "weight": None,
                    "kind": layer.name,
                }
            )
    kinds = {source["kind"] for source in sources}
    words = [
        word
        for kind, word in (
            ("Commune", "une commune"),
            ("Maille", "une maille"),
            ("EPCI", "un EPCI"),
        )
        if kind in kinds
    ]
    if kinds - {"Commune", "Maille", "EPCI"}:
        words.append("un site")
    return {"sources": sources, "label": "Rechercher " + ", ".join(words or ["un site"]) + "…"}
