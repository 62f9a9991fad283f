"""A self-contained HTML map: Leaflet and the recor runtime inlined, data as escaped JSON.

The page loads nothing: a Content-Security-Policy forbids every request except ``data:``
images (and the tile server when online tiles are asked for), and allows only the page's own
scripts by hash, so a value that slipped into the markup still could not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from recor.maps.encode import encode_column, encode_columns, encode_geometries

__all__ = [
    "ONLINE_TILES",
    "LayerSpec",
    "MapDocument",
    "embed_json",
    "make_layer",
]

#: Tile servers offered by ``--online-tiles`` (opt-in; the default background is none).
ONLINE_TILES: dict[str, dict[str, Any]] = {
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "origin": "https://tile.openstreetmap.org",
        "attribution": "© contributeurs OpenStreetMap",
        "maxZoom": 19,
    },
    "ign": {
        "url": (
            "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&FORMAT=image/png"
            "&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
        ),
        "origin": "https://data.geopf.fr",
        "attribution": "© IGN Plan IGN v2",
        "maxZoom": 19,
    },
}


@dataclass
class LayerSpec:
    """One encoded layer, ready for the page (see :func:`make_layer`)."""

    id: str
    name: str
    kind: str
    geom: dict[str, Any]
    cols: dict[str, dict[str, Any]]
    classes: list[dict[str, Any]]
    popup: dict[str, Any] | None
    show: bool = True
    min_zoom: int | None = None
    interactive: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The JSON form read by ``recor-map.js``."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "geom": self.geom,
            "cols": self.cols,
            "classes": self.classes,
            "popup": self.popup,
            "show": self.show,
            "minZoom": self.min_zoom,
            "interactive": self.interactive,
        }


def make_layer(
    layer_id: str,
    name: str,
    frame: gpd.GeoDataFrame,
    *,
    kind: str,
    classes: list[dict[str, Any]],
    style_class: pd.Series | None = None,
    popup_title: str | None = None,
    popup_fields: list[tuple[str, str]] = (),  # type: ignore[assignment]
    tolerance_m: float = 1.0,
    show: bool = True,
    min_zoom: int | None = None,
    interactive: bool = True,
) -> LayerSpec:
    """Encode a GeoDataFrame as a map layer.

    Parameters
    ----------
    layer_id, name
        Identifier (for tests and search) and French name shown in the layer control.
    frame
        Features in a projected CRS (EPSG:2154); reprojected to WGS84 here.
    kind
        ``"line"``, ``"point"`` or ``"polygon"``.
    classes
        Leaflet path styles (``color``, ``weight``, ``fillColor``, ``radius``, ``shape``...).
    style_class
        Per feature, the index into ``classes`` (default: all 0).
    popup_title, popup_fields
        Column giving the popup title; ``(column, French label)`` rows shown in the popup.
        Values are shown as text, never as HTML.
    tolerance_m
        Simplification tolerance in metres (1 m suits the deepest zoom).
    """
    columns = list(dict.fromkeys([c for c, _ in popup_fields] + [popup_title]))
    columns = [c for c in columns if c]
    cols = encode_columns(frame, columns)
    if style_class is not None:
        cols["_c"] = encode_column(pd.Series(style_class.to_numpy(), dtype="int64"))
    popup = None
    if popup_fields or popup_title:
        popup = {"title": popup_title, "fields": [list(f) for f in popup_fields]}
    return LayerSpec(
        id=layer_id,
        name=name,
        kind=kind,
        geom=encode_geometries(frame.geometry, tolerance_m=tolerance_m),
        cols=cols,
        classes=classes,
        popup=popup,
        show=show,
        min_zoom=min_zoom,
        interactive=interactive,
    )


def embed_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset(name: str) -> str:
    return (resources.files("recor.maps") / "assets" / name).read_text("utf-8")


def _script_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@dataclass
class MapDocument:
    """A map page: title, layers, legend, provenance, optional table and search."""

    title: str
    bounds: tuple[tuple[float, float], tuple[float, float]]
    layers: list[LayerSpec] = field(default_factory=list)
    subtitle: str = ""
    legend: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    table: dict[str, Any] | None = None
    search: dict[str, str] | None = None
    tiles: str | None = None
    max_zoom: int = 18
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def spec(self) -> dict[str, Any]:
        """The JSON specification read by the page."""
        tiles = None
        if self.tiles:
            tiles = {k: v for k, v in ONLINE_TILES[self.tiles].items() if k != "origin"}
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "bounds": [list(self.bounds[0]), list(self.bounds[1])],
            "maxZoom": self.max_zoom,
            "tiles": tiles,
            "layers": [layer.as_dict() for layer in self.layers],
            "legend": self.legend,
            "provenance": [
                *([label, value] for label, value in self.provenance),
                ["Carte générée le", self.generated_at.strftime("%Y-%m-%d %H:%M UTC")],
            ],
            "table": self.table,
            "search": self.search,
        }

    def to_html(self) -> str:
        """The complete, self-contained page."""
        leaflet_js = _asset("leaflet.js")
        runtime_js = _asset("recor-map.js")
        css = _asset("leaflet.css") + "\n" + _asset("recor-map.css")
        img_src = "data:"
        if self.tiles:
            img_src += " " + ONLINE_TILES[self.tiles]["origin"]
        policy = (
            "default-src 'none'; "
            f"script-src {_script_hash(leaflet_js)} {_script_hash(runtime_js)}; "
            f"style-src 'unsafe-inline'; img-src {img_src}; "
            "base-uri 'none'; form-action 'none'"
        )
        return (
            '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f"<title>{html.escape(self.title)}</title>\n"
            f"<style>{css}</style>\n</head>\n<body>\n"
            '<div id="recor-map"></div>\n'
            f'<script type="application/json" id="recor-spec">{embed_json(self.spec())}</script>\n'
            f"<script>{leaflet_js}</script>\n"
            f"<script>{runtime_js}</script>\n"
            "</body>\n</html>\n"
        )

    def write(self, path: Path | str) -> Path:
        """Write the page (folders created); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_html(), "utf-8")
        return target
