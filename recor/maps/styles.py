"""Colours, widths and symbols of recor maps, and the French labels of their legends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recor.domain import SITE_KIND_LABELS_FR, STATUS_LABELS_FR, SiteKind, Status

__all__ = [
    "BAND_COLOURS",
    "PATH_COUNT_STYLES",
    "SITE_SYMBOLS",
    "STATUS_COLOURS",
    "capacity_classes",
    "capacity_legend",
    "line_classes",
    "site_legend",
    "site_style",
    "status_legend",
]

STATUS_COLOURS: dict[str, str] = {
    Status.IN_SERVICE: "#1b7837",
    Status.UNDER_CONSTRUCTION: "#e08214",
    Status.PLANNED: "#2166ac",
    Status.OUT_OF_SERVICE: "#8c510a",
    Status.ABANDONED: "#999999",
}

_STATUS_DASH: dict[str, str | None] = {
    Status.PLANNED: "6 6",
    Status.UNDER_CONSTRUCTION: "2 4",
    Status.ABANDONED: "1 5",
}

#: Symbol of each site kind: shape (``circle`` drawn on canvas; others as small icons),
#: colour and size in pixels.
SITE_SYMBOLS: dict[str, dict[str, Any]] = {
    SiteKind.DATACENTRE: {
        "shape": "square",
        "color": "#4a1486",
        "fillColor": "#9e9ac8",
        "size": 16,
    },
    SiteKind.CHATON: {"shape": "triangle", "color": "#b2182b", "fillColor": "#b2182b", "size": 14},
    SiteKind.POP: {"shape": "diamond", "color": "#08519c", "fillColor": "#6baed6", "size": 13},
    SiteKind.PUBLIC_SITE: {
        "shape": "circle",
        "color": "#d6604d",
        "fillColor": "#fddbc7",
        "radius": 5,
    },
    SiteKind.JUNCTION: {"shape": "circle", "color": "#525252", "fillColor": "#bdbdbd", "radius": 3},
    SiteKind.CHAMBER: {
        "shape": "circle",
        "color": "#737373",
        "fillColor": "#ffffff",
        "radius": 2.5,
    },
    SiteKind.OTHER: {"shape": "circle", "color": "#252525", "fillColor": "#969696", "radius": 3},
}

#: Distance bands, nearest first, then "beyond the last band".
BAND_COLOURS: tuple[str, ...] = ("#006837", "#78c679", "#d9f0a3", "#fee391", "#fc8d59", "#d7301f")

#: Independent paths (0, 1, 2 or more) and "no site here".
PATH_COUNT_STYLES: dict[int, tuple[str, str]] = {
    -1: ("#f0f0f0", "Aucun site du réseau"),
    0: ("#d7301f", "Aucun chemin vers le cœur"),
    1: ("#fdae61", "Un seul chemin (point de fragilité)"),
    2: ("#1a9850", "Au moins deux chemins indépendants"),
}


def capacity_classes(
    fibre_count: pd.Series, breaks: tuple[int, ...], widths: tuple[float, ...]
) -> np.ndarray:
    """Index of each segment's capacity class (0 = unknown, then by ``breaks``)."""
    counts = pd.to_numeric(fibre_count, errors="coerce").to_numpy(dtype=float)
    classes = np.searchsorted(np.asarray(breaks, dtype=float), counts, side="left") + 1
    classes[np.isnan(counts)] = 0
    return classes.clip(0, len(widths) - 1)


def line_classes(status: str, widths: tuple[float, ...]) -> list[dict[str, Any]]:
    """Leaflet styles of one status, one per capacity class."""
    base = {"color": STATUS_COLOURS.get(status, "#000000"), "opacity": 0.9}
    dash = _STATUS_DASH.get(status)
    if dash:
        base["dashArray"] = dash
    return [{**base, "weight": width} for width in widths]


def capacity_legend(breaks: tuple[int, ...], widths: tuple[float, ...]) -> dict[str, Any]:
    """Legend section: line width by fibre capacity."""
    labels = ["Capacité inconnue"]
    lower = 1
    for upper in breaks:
        labels.append(f"{lower} à {upper} fibres")
        lower = upper + 1
    labels.append(f"Plus de {breaks[-1]} fibres")
    items = [
        {"label": label, "color": "#444444", "weight": width, "shape": "line"}
        for label, width in zip(labels, widths, strict=False)
    ]
    return {"title": "Capacité (épaisseur du trait)", "items": items}


def status_legend(statuses: list[str]) -> dict[str, Any]:
    """Legend section: colour by status."""
    items = [
        {"label": STATUS_LABELS_FR.get(s, s), "color": STATUS_COLOURS.get(s, "#000"), "weight": 4}
        for s in statuses
    ]
    return {"title": "Tronçons par état", "items": items}


def site_legend(kinds: list[str]) -> dict[str, Any]:
    """Legend section: symbol by site kind."""
    items = []
    for kind in kinds:
        symbol = SITE_SYMBOLS.get(kind, SITE_SYMBOLS[SiteKind.OTHER])
        items.append(
            {
                "label": SITE_KIND_LABELS_FR.get(kind, kind),
                "shape": symbol["shape"],
                "color": symbol["color"],
                "fillColor": symbol["fillColor"],
            }
        )
    return {"title": "Sites", "items": items}


def site_style(kind: str) -> dict[str, Any]:
    """Leaflet style of a site kind (circle markers, or an icon shape)."""
    symbol = dict(SITE_SYMBOLS.get(kind, SITE_SYMBOLS[SiteKind.OTHER]))
    if symbol["shape"] == "circle":
        symbol.update({"weight": 1, "fillOpacity": 0.9})
    return symbol
