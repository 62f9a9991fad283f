"""Colours, widths and symbols of recor maps, and the French labels of their legends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recor.domain import SITE_KIND_LABELS_FR, STATUS_LABELS_FR, SiteKind, Status

__all__ = [
    "BAND_COLOURS",
    "MAP_BACKGROUND",
    "PATH_COUNT_STYLES",
    "SITE_SYMBOLS",
    "STATUS_COLOURS",
    "STATUS_DASHES",
    "capacity_classes",
    "capacity_legend",
    "contrast_ratio",
    "line_classes",
    "site_legend",
    "site_style",
    "status_legend",
]

#: Background of every map page (``.folium-map`` in ``assets/recor-map.css``): contrasts
#: are computed against it.
MAP_BACKGROUND = "#f4f1ea"

#: Line colours by status: each at least 3:1 against the background (WCAG 2.1 non-text
#: contrast), hues apart under deuteranopia and protanopia, and each status also told by
#: its dash pattern (only in-service lines are solid).
STATUS_COLOURS: dict[str, str] = {
    Status.IN_SERVICE: "#1b7837",
    Status.UNDER_CONSTRUCTION: "#b35806",
    Status.PLANNED: "#0072b2",
    Status.OUT_OF_SERVICE: "#c51b7d",
    Status.ABANDONED: "#6b6b6b",
}

STATUS_DASHES: dict[str, str | None] = {
    Status.IN_SERVICE: None,
    Status.PLANNED: "8 6",
    Status.UNDER_CONSTRUCTION: "10 4 2 4",
    Status.OUT_OF_SERVICE: "2 5",
    Status.ABANDONED: "1 8",
}

#: Symbol of each site kind: shape (``circle`` drawn as canvas circles; others stamped on the
#: canvas as small symbols), colour and size in pixels.
SITE_SYMBOLS: dict[str, dict[str, Any]] = {
    SiteKind.DATACENTRE: {
        "shape": "square",
        "color": "#4a1486",
        "fillColor": "#9e9ac8",
        "size": 16,
    },
    SiteKind.CHATON: {"shape": "triangle", "color": "#b2182b", "fillColor": "#b2182b", "size": 14},
    SiteKind.POP: {"shape": "diamond", "color": "#08519c", "fillColor": "#6baed6", "size": 13},
    # public sites are what the network serves: a large disc drawn above the PoP symbols
    SiteKind.PUBLIC_SITE: {
        "shape": "disc",
        "color": "#00695c",
        "fillColor": "#80cbc4",
        "size": 15,
        "zIndexOffset": 1000,
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

#: Distance bands, nearest first, then "beyond the last band": viridis, whose lightness rises
#: steadily (so the bands read in order in grey and under colour-blindness too).
BAND_COLOURS: tuple[str, ...] = ("#440154", "#3b528b", "#21918c", "#5ec962", "#addc30", "#fde725")

#: Independent paths (0, 1, 2 or more) and "no site here": orange to purple (PuOr), apart
#: under deuteranopia and protanopia.
PATH_COUNT_STYLES: dict[int, tuple[str, str]] = {
    -1: ("#f0f0f0", "Aucun site desservi dans la commune"),
    0: ("#e66101", "Aucun chemin vers le cœur"),
    1: ("#fdb863", "Un seul chemin (point de fragilité)"),
    2: ("#5e3c99", "Au moins deux chemins indépendants"),
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
    base = {"color": STATUS_COLOURS.get(status, "#000000"), "opacity": 1}
    dash = STATUS_DASHES.get(status)
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
        {
            "label": STATUS_LABELS_FR.get(s, s),
            "color": STATUS_COLOURS.get(s, "#000"),
            "weight": 4,
            "dashArray": STATUS_DASHES.get(s),
        }
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


def _luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a ``#rrggbb`` colour."""
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
