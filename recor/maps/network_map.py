"""The network map: segments by status and capacity, sites by kind, search by name."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd

from recor.config import MapSettings
from recor.domain import SITE_KIND_LABELS_FR, STATUS_LABELS_FR
from recor.maps._common import (
    background_layers,
    bounds_of,
    provenance_rows,
    segment_layers,
    site_layers,
    site_search,
)
from recor.maps._fr import km_fr, number_fr
from recor.maps.document import MapDocument
from recor.maps.privacy import Level, publishable
from recor.maps.styles import capacity_legend, site_legend, status_legend

__all__ = ["network_map"]

_LEVEL_FR = {"internal": "interne (tous les attributs)", "public": "publique (simplifiée)"}


def network_map(
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    version: str,
    settings: MapSettings | None = None,
    level: Level = "internal",
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
    tiles: str | None = None,
) -> MapDocument:
    """Build the network map.

    Parameters
    ----------
    sites, segments
        Registry frames (:func:`recor.registry.read_sites` / ``read_segments``), EPSG:2154.
    version
        Data version shown on the map (:func:`recor.maps._fr.version_fr`).
    level
        ``"internal"`` shows every attribute; ``"public"`` see :mod:`recor.maps.privacy`.
    boundaries
        Reference layers by kind (``communes``, ``departements``, ``region``) drawn as the
        background.
    tiles
        ``"osm"`` or ``"ign"`` to add an online background (opt-in); None keeps it offline.

    Returns
    -------
    MapDocument
        Write it with ``.write(path)``.
    """
    settings = settings or MapSettings()
    if level == "public":
        sites, segments = publishable(sites, segments, coarsen_m=settings.public_coarsen_m)
    layers = [
        *background_layers(boundaries or {}, settings),
        *segment_layers(segments, settings),
        *site_layers(sites, settings),
    ]
    statuses = [s for s in STATUS_LABELS_FR if (segments["status"] == s).any()]
    kinds = [k for k in SITE_KIND_LABELS_FR if (sites["kind"] == k).any()]
    breaks = tuple(int(b) for b in settings.capacity_breaks)
    return MapDocument(
        title="Réseau RECOR : fibre noire régionale",
        subtitle=f"{_thousands(len(segments))} tronçons, {_thousands(len(sites))} sites",
        bounds=bounds_of(segments, sites),
        layers=layers,
        legend=[
            status_legend(statuses),
            capacity_legend(breaks, settings.capacity_widths),
            site_legend(kinds),
        ],
        provenance=provenance_rows(
            version,
            {
                "Niveau de diffusion": _LEVEL_FR[level],
                "Simplification des tracés": f"{km_fr(settings.simplify_m)} m",
                "Fond de carte": "en ligne (" + tiles + ")" if tiles else "hors ligne",
            },
            boundaries,
        ),
        search=site_search(layers),
        tiles=tiles,
        max_zoom=settings.max_zoom,
    )


def _thousands(count: int) -> str:
    """``12 345``: French digit grouping (narrow no-break space)."""
    return number_fr(count)
