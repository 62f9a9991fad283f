"""A self-contained HTML map built with folium: Leaflet and the recor runtime inlined.

folium renders the page (:mod:`recor.maps._folium`): an :class:`~recor.maps._folium.OfflineMap`
without its CDN links, the vendored Leaflet and the recor runtime inlined, one compact layer
element per layer (data as escaped JSON) and the page controls. A Content-Security-Policy,
computed from the rendered page, forbids every request except ``data:`` images (and the tile
server when online tiles are asked for) and allows only the page's own scripts by hash, so a
value that slipped into the markup still could not run.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import folium
import geopandas as gpd
import pandas as pd

from recor.errors import RecorError
from recor.maps._folium import (
    CompactLayer,
    InlineAssets,
    OfflineMap,
    PageControls,
    content_security_policy,
)
from recor.maps.encode import encode_column, encode_columns, encode_geometries

__all__ = [
    "ONLINE_TILES",
    "LayerSpec",
    "MapDocument",
    "embed_json",
    "french_time",
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
    #: drawn in bulk from typed arrays (lines thinned to the pixel, points counted per
    #: grid cell below ``min_zoom``) instead of one Leaflet object per feature
    bulk: bool = False

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
            "bulk": self.bulk,
        }


# Data cannot contain it: embed_json escapes every "<".
_POLICY_SLOT = "<!-- recor: Content-Security-Policy -->"


def make_layer(
    layer_id: str,
    name: str,
    frame: gpd.GeoDataFrame,
    *,
    kind: str,
    classes: list[dict[str, Any]],
    style_class: pd.Series | None = None,
    popup_title: str | None = None,
    popup_fields: list[tuple[str, ...]] = (),  # type: ignore[assignment]
    tolerance_m: float = 1.0,
    show: bool = True,
    min_zoom: int | None = None,
    interactive: bool = True,
    data_columns: tuple[str, ...] = (),
    bulk: bool = False,
) -> LayerSpec:
    """Encode a GeoDataFrame as a map layer.

    Parameters
    ----------
    layer_id, name
        Identifier (for tests and search) and French name shown in the layer control.
    frame
        Features in a projected CRS (EPSG:2154); reprojected to WGS84 here.
    kind
        ``"line"``, ``"point"``, ``"polygon"`` or ``"label"`` (place names: points drawn
        as text from the zoom in their ``label_zoom`` column).
    classes
        Leaflet path styles (``color``, ``weight``, ``fillColor``, ``radius``, ``shape``...).
    style_class
        Per feature, the index into ``classes`` (default: all 0).
    popup_title, popup_fields
        Column giving the popup title; ``(column, French label[, text when missing])`` rows
        shown in the popup (a missing value reads "—" unless the row names its own text).
        Values are shown as text, never as HTML.
    tolerance_m
        Simplification tolerance in metres (1 m suits the deepest zoom).
    data_columns
        Columns carried without being shown (search keys, label zooms).
    bulk
        Draw the layer in bulk (a big layer: see ``BulkLayer`` in ``recor-map.js``); a
        bulk point layer with ``min_zoom`` shows counts per grid cell below that zoom.
    """
    columns = list(dict.fromkeys([f[0] for f in popup_fields] + [popup_title, *data_columns]))
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
        bulk=bulk,
    )


def french_time(moment: datetime) -> str:
    """``30/11/2026 à 07:42 (heure de Paris)``: a date as a French reader expects it."""
    local = moment.astimezone(ZoneInfo("Europe/Paris"))
    return f"{local:%d/%m/%Y à %H:%M} (heure de Paris)"


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


@dataclass
class MapDocument:
    """A map page: title, layers, legend, provenance, optional table and search."""

    title: str
    bounds: tuple[tuple[float, float], tuple[float, float]]
    layers: list[LayerSpec] = field(default_factory=list)
    subtitle: str = ""
    legend: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    table: dict[str, Any] | list[dict[str, Any]] | None = None
    search: dict[str, str] | None = None
    tiles: str | None = None
    max_zoom: int = 18
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def spec(self) -> dict[str, Any]:
        """The JSON specification of the page controls (``recor-spec``; layers apart)."""
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "legend": self.legend,
            "provenance": [
                *([label, value] for label, value in self.provenance),
                ["Carte générée le", french_time(self.generated_at)],
            ],
            "table": self.table,
            "search": self.search,
        }

    def to_folium(self) -> folium.Map:
        """The folium map of the page (offline: no CDN link, no tile server unless asked)."""
        (south, west), (north, east) = self.bounds
        fmap = OfflineMap(
            location=[(south + north) / 2, (west + east) / 2],
            zoom_start=8,
            tiles=None,
            control_scale=True,
            prefer_canvas=True,
            zoom_snap=0.5,
        )
        # folium.Map(max_zoom=...) only sets its own tile layer; this is the map's
        fmap.options["max_zoom"] = self.max_zoom
        fmap.add_child(InlineAssets())
        if self.tiles:
            tiles = ONLINE_TILES[self.tiles]
            folium.TileLayer(
                tiles["url"], attr=tiles["attribution"], max_zoom=tiles["maxZoom"], control=False
            ).add_to(fmap)
        for layer in self.layers:
            fmap.add_child(CompactLayer(embed_json(layer.as_dict())))
        fmap.fit_bounds([list(self.bounds[0]), list(self.bounds[1])])
        fmap.add_child(PageControls(embed_json(self.spec())))
        return fmap

    def to_html(self) -> str:
        """The complete, self-contained page, rendered by folium."""
        figure = self.to_folium().get_root()
        figure.title = html.escape(self.title)
        # the policy must precede every script: next to the charset, filled in after rendering
        figure.header.add_child(folium.Element(_POLICY_SLOT), name="policy", index=1)
        figure.header.add_child(
            folium.Element('<meta name="referrer" content="no-referrer">'), name="referrer"
        )
        page = figure.render()
        if page.count(_POLICY_SLOT) != 1:
            raise RecorError("folium rendered no page header for the Content-Security-Policy")
        img_src = "data:"
        if self.tiles:
            img_src += " " + ONLINE_TILES[self.tiles]["origin"]
        policy = content_security_policy(page, img_src=img_src)
        meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
        page = page.replace(_POLICY_SLOT, meta, 1)
        return page.replace("<html>", '<html lang="fr">', 1)

    def write(self, path: Path | str) -> Path:
        """Write the page (folders created); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_html(), "utf-8")
        return target
