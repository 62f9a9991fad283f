"""Pieces shared by the map builders: display columns, popups, background, bounds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from recor.config import MapSettings
from recor.domain import INSTALLATION_LABELS_FR, SITE_KIND_LABELS_FR, STATUS_LABELS_FR
from recor.maps.document import LayerSpec, make_layer
from recor.maps.styles import (
    capacity_classes,
    line_classes,
    site_style,
)

__all__ = [
    "SEGMENT_POPUP",
    "SITE_POPUP",
    "background_layers",
    "bounds_of",
    "display_segments",
    "display_sites",
    "popup_fields",
    "provenance_rows",
    "segment_layers",
    "site_layers",
    "site_search",
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
        out["commissioned_on"] = out["commissioned_on"].map(
            lambda v: None if v is None or pd.isna(v) else str(v)
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
            )
        )
    return layers


def site_layers(
    sites: gpd.GeoDataFrame, settings: MapSettings, *, prefix: str = "sites"
) -> list[LayerSpec]:
    """One layer per site kind with its own symbol; big layers only when zoomed in."""
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
            )
        )
    return layers


def background_layers(
    boundaries: Mapping[str, gpd.GeoDataFrame], settings: MapSettings
) -> list[LayerSpec]:
    """Administrative boundaries drawn as the background (no tile server needed)."""
    styles = {
        "communes": {"color": "#9e9e9e", "weight": 0.5, "fill": False},
        "departements": {"color": "#424242", "weight": 1.5, "fill": False},
        "region": {"color": "#000000", "weight": 2.5, "fill": False},
    }
    names = {"communes": "Communes", "departements": "Départements", "region": "Région"}
    layers = []
    for kind in ("communes", "departements", "region"):
        frame = boundaries.get(kind)
        if frame is None or frame.empty:
            continue
        layers.append(
            make_layer(
                f"reference-{kind}",
                f"Fond : {names[kind].lower()}",
                frame,
                kind="polygon",
                classes=[{**styles[kind], "interactive": False}],
                tolerance_m=settings.boundary_simplify_m,
                interactive=False,
            )
        )
    return layers


def bounds_of(*frames: gpd.GeoDataFrame | None) -> tuple[tuple[float, float], tuple[float, float]]:
    """South-west and north-east corners (lat, lng) of the frames' features."""
    boxes = []
    for frame in frames:
        if frame is None or frame.empty:
            continue
        boxes.append(frame.to_crs(4326).total_bounds if frame.crs else frame.total_bounds)
    if not boxes:
        # the region, when there is nothing to show
        return ((46.35, 0.05), (48.95, 3.13))
    b = np.array(boxes)
    return (
        (float(b[:, 1].min()), float(b[:, 0].min())),
        (float(b[:, 3].max()), float(b[:, 2].max())),
    )


def provenance_rows(version: str, parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rows of the provenance box: data version and parameters."""
    rows = [("Version des données", version)]
    rows.extend((str(k), _text(v)) for k, v in parameters.items())
    return rows


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def site_search(layers: list[LayerSpec]) -> dict[str, Any]:
    """Search by site name over every site layer."""
    ids = [layer.id for layer in layers if layer.kind == "point" and layer.popup]
    return {"layers": ids, "column": "name", "label": "Rechercher un site…"}
