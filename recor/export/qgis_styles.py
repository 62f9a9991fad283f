"""QGIS renderers, labels and field aliases that match the HTML maps (:mod:`recor.maps.styles`).

Everything is built as ``xml.etree`` elements of a QGIS 3 project (``renderer-v2``,
``labeling``, ``aliases``); no QGIS is needed to write them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from recor.config import MapSettings
from recor.domain import (
    RISK_KIND_LABELS_FR,
    SITE_KIND_LABELS_FR,
    STATUS_LABELS_FR,
    SiteKind,
)
from recor.maps.styles import SITE_SYMBOLS, STATUS_COLOURS

__all__ = [
    "FIELD_ALIASES_FR",
    "aliases",
    "area_renderer",
    "history_renderer",
    "labeling",
    "risk_group_renderer",
    "segment_renderer",
    "site_renderer",
]

#: French aliases of the columns a QGIS user sees in forms and attribute tables.
FIELD_ALIASES_FR: dict[str, str] = {
    "id": "Identifiant",
    "code": "Code",
    "name": "Nom",
    "kind": "Type",
    "operator": "Exploitant",
    "status": "État",
    "source": "Source",
    "extra": "Attributs supplémentaires",
    "site_a": "Site A",
    "site_b": "Site B",
    "length_m": "Longueur (m)",
    "fibre_count": "Nombre de fibres",
    "fibres_used": "Fibres utilisées",
    "cable_type": "Type de câble",
    "installation": "Mode de pose",
    "owner": "Propriétaire",
    "commissioned_on": "Mise en service",
    "valid_from": "Valide depuis",
    "valid_to": "Valide jusqu'au",
    "batch_id": "Lot d'import",
    "ended_by_batch": "Remplacé par le lot",
    "retired": "Retiré",
    "segment_count": "Nombre de tronçons",
    "segment_codes": "Tronçons",
    "version_key": "Version",
    "started_at": "Début",
    "finished_at": "Fin",
    "app_user": "Utilisateur",
    "db_user": "Rôle de base",
    "profile": "Profil",
    "outcome": "Issue",
    "note": "Note",
    "source_files": "Fichiers sources",
    "counts": "Décompte",
    "undoes": "Annule le lot",
    "undone_by": "Annulé par le lot",
}

#: Shapes of the HTML maps → QGIS simple-marker names.
_MARKER_SHAPES = {"square": "square", "triangle": "triangle", "diamond": "diamond"}

_DASH: dict[str, str] = {
    "planned": "6;6",
    "under_construction": "2;4",
    "abandoned": "1;5",
}


def _rgba(colour: str, alpha: int = 255) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


def _symbol_layer(parent: ET.Element, cls: str, props: dict[str, Any]) -> None:
    """One symbol layer, with its properties written in both QGIS 3 forms."""
    layer = ET.SubElement(
        parent, "layer", {"class": cls, "enabled": "1", "pass": "0", "locked": "0"}
    )
    options = ET.SubElement(layer, "Option", {"type": "Map"})
    for key, value in props.items():
        ET.SubElement(options, "Option", {"type": "QString", "name": key, "value": str(value)})
    for key, value in props.items():
        ET.SubElement(layer, "prop", {"k": key, "v": str(value)})


def _symbol(name: str, kind: str, cls: str, props: dict[str, Any]) -> ET.Element:
    symbol = ET.Element(
        "symbol",
        {"type": kind, "name": name, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"},
    )
    _symbol_layer(symbol, cls, props)
    return symbol


def _marker(name: str, kind: str) -> ET.Element:
    style = SITE_SYMBOLS.get(kind, SITE_SYMBOLS[SiteKind.OTHER])
    shape = _MARKER_SHAPES.get(style["shape"], "circle")
    size = style.get("size", 2 * style.get("radius", 3))
    return _symbol(
        name,
        "marker",
        "SimpleMarker",
        {
            "name": shape,
            "color": _rgba(style["fillColor"]),
            "outline_color": _rgba(style["color"]),
            "outline_width": "1",
            "outline_width_unit": "Pixel",
            "size": size,
            "size_unit": "Pixel",
        },
    )


def _line(name: str, colour: str, width: float, dash: str | None = None, alpha: int = 230):
    props: dict[str, Any] = {
        "line_color": _rgba(colour, alpha),
        "line_width": width,
        "line_width_unit": "Pixel",
        "capstyle": "round",
        "joinstyle": "round",
        "line_style": "solid",
    }
    if dash:
        props |= {"use_custom_dash": "1", "customdash": dash, "customdash_unit": "Pixel"}
    return _symbol(name, "line", "SimpleLine", props)


def _fill(name: str, outline: str, width: float) -> ET.Element:
    return _symbol(
        name,
        "fill",
        "SimpleFill",
        {
            "color": "255,255,255,0",
            "style": "no",
            "outline_color": _rgba(outline),
            "outline_width": width,
            "outline_width_unit": "Pixel",
        },
    )


def _categorized(attr: str, categories: list[tuple[str, str, ET.Element]]) -> ET.Element:
    renderer = ET.Element(
        "renderer-v2",
        {"type": "categorizedSymbol", "attr": attr, "symbollevels": "0", "forceraster": "0"},
    )
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for index, (value, label, symbol) in enumerate(categories):
        ET.SubElement(
            cats,
            "category",
            {"value": value, "label": label, "symbol": str(index), "render": "true"},
        )
        symbol.set("name", str(index))
        symbols.append(symbol)
    return renderer


def site_renderer() -> ET.Element:
    """Sites by kind, with the symbols of the HTML maps."""
    return _categorized(
        "kind",
        [(kind, SITE_KIND_LABELS_FR[kind], _marker("", kind)) for kind in SITE_KIND_LABELS_FR],
    )


def _capacity_rules(settings: MapSettings) -> list[tuple[str, str]]:
    """(filter, French label) of each capacity class, unknown first, as the maps draw them."""
    breaks = [int(b) for b in settings.capacity_breaks]
    rules = [('"fibre_count" IS NULL', "Capacité inconnue")]
    lower = 0
    for upper in breaks:
        test = f'"fibre_count" <= {upper}'
        if lower:
            test = f'"fibre_count" > {lower} AND {test}'
        rules.append((test, f"{lower + 1} à {upper} fibres"))
        lower = upper
    rules.append((f'"fibre_count" > {breaks[-1]}', f"Plus de {breaks[-1]} fibres"))
    return rules


def segment_renderer(settings: MapSettings) -> ET.Element:
    """Segments by status (colour, dashes) and capacity (width), as in the HTML maps."""
    renderer = ET.Element("renderer-v2", {"type": "RuleRenderer", "symbollevels": "0"})
    root = ET.SubElement(renderer, "rules", {"key": "root"})
    symbols = ET.SubElement(renderer, "symbols")
    widths = settings.capacity_widths
    index = 0
    for status, label in STATUS_LABELS_FR.items():
        parent = ET.SubElement(
            root,
            "rule",
            {"key": f"status_{status}", "filter": f"\"status\" = '{status}'", "label": label},
        )
        for (test, capacity), width in zip(_capacity_rules(settings), widths, strict=False):
            ET.SubElement(
                parent,
                "rule",
                {
                    "key": f"{status}_{index}",
                    "filter": test,
                    "label": capacity,
                    "symbol": str(index),
                },
            )
            symbols.append(_line(str(index), STATUS_COLOURS[status], width, _DASH.get(status)))
            index += 1
    return renderer


def risk_group_renderer() -> ET.Element:
    """Shared-risk groups by kind: a wide translucent band under the segments."""
    colours = {
        "duct": "#762a83",
        "trench": "#9970ab",
        "bridge_crossing": "#e7298a",
        "other": "#525252",
    }
    return _categorized(
        "kind",
        [(k, RISK_KIND_LABELS_FR[k], _line("", colours[k], 9, alpha=110)) for k in colours],
    )


def history_renderer(geometry: str) -> ET.Element:
    """Past versions: thin grey lines or small grey points."""
    if geometry == "line":
        symbol = _line("0", "#7f7f7f", 1.5, "3;3")
    else:
        symbol = _symbol(
            "0",
            "marker",
            "SimpleMarker",
            {"name": "cross2", "color": "127,127,127,255", "size": 7, "size_unit": "Pixel"},
        )
    renderer = ET.Element("renderer-v2", {"type": "singleSymbol", "symbollevels": "0"})
    ET.SubElement(renderer, "symbols").append(symbol)
    return renderer


def area_renderer() -> ET.Element:
    """Reference areas (communes, départements...): outlines only."""
    renderer = ET.Element("renderer-v2", {"type": "singleSymbol", "symbollevels": "0"})
    ET.SubElement(renderer, "symbols").append(_fill("0", "#636363", 0.8))
    return renderer


def labeling(field: str, max_scale: int) -> ET.Element:
    """Labels from ``field``, shown when zoomed in beyond 1:``max_scale``."""
    element = ET.Element("labeling", {"type": "simple"})
    settings = ET.SubElement(element, "settings", {"calloutType": "simple"})
    ET.SubElement(
        settings,
        "text-style",
        {
            "fieldName": field,
            "isExpression": "0",
            "fontSize": "8",
            "fontSizeUnit": "Point",
            "textColor": "40,40,40,255",
            "fontFamily": "Sans Serif",
        },
    )
    buffer = {"bufferDraw": "1", "bufferSize": "0.8", "bufferColor": "255,255,255,255"}
    ET.SubElement(settings, "text-buffer", buffer | {"bufferSizeUnits": "MM"})
    ET.SubElement(settings, "placement", {"placement": "0", "dist": "1.5", "distUnits": "MM"})
    ET.SubElement(
        settings,
        "rendering",
        {
            "scaleVisibility": "1",
            "scaleMin": "1",
            "scaleMax": str(max_scale),
            "obstacle": "1",
            "displayAll": "0",
        },
    )
    return element


def aliases(fields: list[str]) -> ET.Element:
    """The ``aliases`` element of a layer (French names of its fields)."""
    element = ET.Element("aliases")
    for index, field in enumerate(fields):
        ET.SubElement(
            element,
            "alias",
            {"field": field, "index": str(index), "name": FIELD_ALIASES_FR.get(field, field)},
        )
    return element
