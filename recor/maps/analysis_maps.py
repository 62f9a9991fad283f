"""Maps of network analyses: redundancy, a route with its most diverse alternative, what-if."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from recor.config import MapSettings
from recor.domain import SiteKind
from recor.maps._common import (
    SEGMENT_POPUP,
    SITE_POPUP,
    background_layers,
    bounds_of,
    commune_fields,
    display_segments,
    display_sites,
    popup_fields,
    provenance_rows,
    segment_layers,
    site_layers,
    site_search,
    with_commune_details,
)
from recor.maps._fr import number_fr, version_fr
from recor.maps.document import MapDocument, make_layer
from recor.maps.styles import PATH_COUNT_STYLES
from recor.network import RedundancyReport, RoutePair, WhatIfResult, pair_frame

__all__ = ["redundancy_map", "resilience_classes", "route_map", "whatif_map"]

_AREA_STYLE = {
    "color": "#000000",
    "weight": 2,
    "dashArray": "8 4",
    "fillOpacity": 0.12,
    "fillColor": "#000000",
}

#: Route-pair methods of :func:`recor.network.diverse_pair`, in French.
_METHOD_FR = {
    "min-cost flow (Suurballe)": "flot de coût minimal à deux unités (méthode de Suurballe)",
    "Yen enumeration with shared-risk penalties, length-bounded": (
        "énumération de Yen avec pénalités de risque partagé, longueur bornée"
    ),
}

#: Sites that serve nobody (duct detail): they never make a unit resilient.
_PASSIVE_KINDS = (SiteKind.CHAMBER, SiteKind.JUNCTION)
_HIGHLIGHT_SEGMENT = {"color": "#d7191c", "weight": 6, "opacity": 0.9}
#: Disjointness levels as a planner reads them (route map caption).
_DISJOINTNESS_FR = {
    "edge": "par tronçons",
    "node": "par tronçons et sites",
    "srlg": "par tronçons, sites et groupes de risque partagés",
}

#: A core site left with no path to the rest of the core: larger, filled with the alert colour.
_CORE_LOST_SITE = {
    "color": "#d7191c",
    "fillColor": "#d7191c",
    "fillOpacity": 0.6,
    "radius": 12,
    "weight": 4,
}

_HIGHLIGHT_SITE = {
    "color": "#d7191c",
    "fillColor": "#ffffff",
    "radius": 8,
    "weight": 3,
    "fillOpacity": 1,
    "shape": "circle",
}


def _highlight_segments(
    layer_id: str, name: str, segments: gpd.GeoDataFrame, style: dict, settings: MapSettings
):
    shown = display_segments(segments)
    return make_layer(
        layer_id,
        name,
        shown,
        kind="line",
        classes=[style],
        popup_title="code",
        popup_fields=popup_fields(shown, SEGMENT_POPUP),
        tolerance_m=settings.simplify_m,
        bulk=len(shown) > settings.overview_max_points,
    )


def _highlight_sites(
    layer_id: str,
    name: str,
    sites: gpd.GeoDataFrame,
    style: dict,
    extra_fields: list[tuple[str, str]] = (),
    settings: MapSettings | None = None,
):  # type: ignore[assignment]
    settings = settings or MapSettings()
    shown = display_sites(sites)
    large = len(shown) > settings.overview_max_points
    return make_layer(
        layer_id,
        name,
        shown,
        kind="point",
        classes=[style],
        popup_title="name",
        popup_fields=[*popup_fields(shown, SITE_POPUP), *extra_fields],
        min_zoom=settings.detail_min_zoom if large else None,
        bulk=large,
    )


def resilience_classes(
    units: gpd.GeoDataFrame, site_paths: gpd.GeoDataFrame, column: str = "node_paths"
) -> np.ndarray:
    """Per unit, the best number of independent paths of its sites (-1: no site; capped 2)."""
    if site_paths.empty:
        return np.full(len(units), -1)
    joined = gpd.sjoin(
        site_paths[[column, "geometry"]],
        units[["geometry"]].reset_index(drop=True),
        how="inner",
        predicate="intersects",
    )
    best = joined.groupby("index_right")[column].max()
    out = np.full(len(units), -1)
    out[best.index.to_numpy()] = best.clip(upper=2).to_numpy()
    return out


#: What "single-homed" means at each level, as a planner reads it.
_LEVEL_FR = {
    "edge": "une seule coupure de tronçon l'isole du cœur",
    "node": "une seule panne de tronçon ou de site l'isole du cœur",
    "srlg": "une seule panne de tronçon, de site ou de risque partagé l'isole du cœur",
}


def _thousands(count: int) -> str:
    """``12 345``: French digit grouping (narrow no-break space)."""
    return number_fr(count)


def _names(sites: gpd.GeoDataFrame, codes: Iterable[str]) -> str:
    """Site names (code when unnamed), for captions: a planner reads names, not codes."""
    by_code = dict(zip(sites["code"], sites["name"], strict=False))
    return ", ".join(str(by_code.get(code) or code) for code in codes)


def redundancy_map(
    report: RedundancyReport,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    unit_kind: str = "communes",
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
    settings: MapSettings | None = None,
    tiles: str | None = None,
) -> MapDocument:
    """Bridges, articulation sites, single-homed sites, and units by independent paths.

    One resilience definition: the single-homed sites are the report's (as printed by
    ``recor redundancy`` and counted in the coverage table), and ``units`` (communes or
    grid cells) are coloured by the largest number of independent paths at the report's
    level (capped at 2) from one of their served sites (not chambers or junctions).
    """
    settings = settings or MapSettings()
    if unit_kind == "communes":
        units = with_commune_details(units, (boundaries or {}).get("departements"))
    else:
        units = units.assign(detail_fr="maille")
    column = f"{report.level}_paths"
    served = ~report.sites["kind"].astype(str).isin(list(_PASSIVE_KINDS))
    paths = report.sites.loc[served, ["code", column, "geometry"]]
    units["paths"] = resilience_classes(units, paths, column)
    units["paths_fr"] = units["paths"].map({k: v[1] for k, v in PATH_COUNT_STYLES.items()})
    order = sorted(PATH_COUNT_STYLES)
    units["_class"] = units["paths"].map({k: i for i, k in enumerate(order)})
    classes = [
        {
            "color": "#777777",
            "weight": 0.4,
            "fillColor": PATH_COUNT_STYLES[k][0],
            "fillOpacity": 0.6,
        }
        for k in order
    ]
    bridges = segments[segments["code"].isin(report.bridges)]
    articulation = sites[sites["code"].isin(report.articulation_sites)]
    single = sites[sites["code"].isin(report.single_homed["code"])]
    unit_name = "Communes" if unit_kind == "communes" else "Mailles"
    layers = [
        *background_layers(boundaries or {}, settings, communes=False),
        make_layer(
            "units",
            f"{unit_name} par chemins indépendants",
            units,
            kind="polygon",
            classes=classes,
            style_class=units["_class"],
            popup_title="name",
            popup_fields=[
                *(commune_fields(units) if unit_kind == "communes" else [("code", "Code", "")]),
                ("paths_fr", "Chemins indépendants vers le cœur", ""),
            ],
            tolerance_m=settings.boundary_simplify_m,
            data_columns=("detail_fr",),
            bulk=len(units) > settings.overview_max_polygons,
        ),
        *segment_layers(segments, settings),
        _highlight_segments("bridges", "Tronçons critiques", bridges, _HIGHLIGHT_SEGMENT, settings),
        *site_layers(sites[~sites["kind"].isin(list(_PASSIVE_KINDS))], settings),
        _highlight_sites(
            "articulation",
            "Sites critiques",
            articulation,
            {**_HIGHLIGHT_SITE, "color": "#7b3294"},
            settings=settings,
        ),
        _highlight_sites(
            "single-homed",
            "Sites mono-raccordés",
            single,
            {**_HIGHLIGHT_SITE, "radius": 6},
            settings=settings,
        ),
    ]
    legend = [
        {
            "title": f"{unit_name} : chemins indépendants vers le cœur",
            "items": [
                {
                    "label": PATH_COUNT_STYLES[k][1],
                    "shape": "area",
                    "color": "#777777",
                    "fillColor": PATH_COUNT_STYLES[k][0],
                }
                for k in order
            ],
        },
        {
            "title": "Fragilités",
            "items": [
                {
                    "label": (
                        f"Tronçon critique : sa perte coupe le réseau ({_thousands(len(bridges))})"
                    ),
                    "color": _HIGHLIGHT_SEGMENT["color"],
                    "weight": 6,
                },
                {
                    "label": (
                        "Site critique : sa perte coupe le réseau"
                        f" ({_thousands(len(articulation))})"
                    ),
                    "shape": "circle",
                    "color": "#7b3294",
                    "fillColor": "#ffffff",
                },
                {
                    "label": f"Site mono-raccordé ({_thousands(len(single))})",
                    "shape": "circle",
                    "color": "#d7191c",
                    "fillColor": "#ffffff",
                },
            ],
        },
    ]
    provenance = report.provenance
    version = (
        version_fr(provenance.version) if provenance and provenance.version else "graphe en mémoire"
    )
    return MapDocument(
        title="Résilience du réseau RECOR",
        subtitle=(
            f"{_thousands(len(single))} sites mono-raccordés"
            f" ({_LEVEL_FR.get(report.level, report.level)}),"
            f" {_thousands(len(bridges))} tronçons critiques,"
            f" {_thousands(len(articulation))} sites critiques"
        ),
        bounds=bounds_of(segments, sites),
        layers=layers,
        legend=legend,
        provenance=provenance_rows(
            version,
            {
                "Cœur (destinations)": _names(sites, report.core),
                "Mono-raccordé": _LEVEL_FR.get(report.level, report.level),
                "Même définition que": "recor redundancy et le tableau de couverture",
            },
            boundaries,
        ),
        search=site_search(layers),
        tiles=tiles,
        max_zoom=settings.max_zoom,
    )


def route_map(
    pair: RoutePair,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
    settings: MapSettings | None = None,
    tiles: str | None = None,
) -> MapDocument:
    """A route and its most diverse alternative over the network."""
    settings = settings or MapSettings()
    routes = pair_frame(pair)
    routes["role_fr"] = routes["role"].map(
        {"primary": "Itinéraire principal", "secondary": "Itinéraire de secours"}
    )
    routes["length_km"] = (routes["length_m"] / 1000).round(2)
    routes["_class"] = routes["role"].map({"primary": 0, "secondary": 1})
    ends = sites[sites["code"].isin([pair.first.sites[0], pair.first.sites[-1]])]
    shared = (
        f"tronçons partagés : {', '.join(pair.shared_segments) or 'aucun'} ; "
        f"sites partagés : {', '.join(pair.shared_sites) or 'aucun'} ; "
        f"groupes de risque partagés : {', '.join(pair.shared_risk_groups) or 'aucun'}"
    )
    layers = [
        *background_layers(boundaries or {}, settings),
        *segment_layers(segments, settings),
        *site_layers(sites[~sites["kind"].isin(list(_PASSIVE_KINDS))], settings),
        make_layer(
            "routes",
            "Itinéraires",
            routes,
            kind="line",
            classes=[
                {"color": "#e31a1c", "weight": 7, "opacity": 0.8},
                {"color": "#1f78b4", "weight": 7, "opacity": 0.8, "dashArray": "10 6"},
            ],
            style_class=routes["_class"],
            popup_title="role_fr",
            popup_fields=[
                ("length_km", "Longueur (km)"),
                ("sites", "Sites"),
                ("segments", "Tronçons"),
            ],
        ),
        _highlight_sites("ends", "Extrémités", ends, {**_HIGHLIGHT_SITE, "color": "#000000"}),
    ]
    version = (
        version_fr(pair.first.provenance.version)
        if pair.first.provenance and pair.first.provenance.version
        else "graphe en mémoire"
    )
    return MapDocument(
        title=(
            f"Itinéraire {_names(sites, [pair.first.sites[0]])}"
            f" → {_names(sites, [pair.first.sites[-1]])} et son secours"
        ),
        subtitle=(
            f"Disjonction demandée : {_DISJOINTNESS_FR.get(pair.disjointness, pair.disjointness)}"
            f" ; obtenue : {'oui' if pair.achieved else 'non'} ; {shared}"
        ),
        bounds=bounds_of(routes),
        layers=layers,
        legend=[
            {
                "title": "Itinéraires",
                "items": [
                    {"label": "Principal", "color": "#e31a1c", "weight": 6},
                    {"label": "Secours (le plus disjoint)", "color": "#1f78b4", "weight": 6},
                ],
            }
        ],
        provenance=provenance_rows(
            version,
            {
                "Méthode": _METHOD_FR.get(pair.method, pair.method),
                "Longueur totale (km)": number_fr(pair.total_length_m / 1000, 2),
            },
            boundaries,
        ),
        search=site_search(layers),
        tiles=tiles,
        max_zoom=settings.max_zoom,
    )


def _scenario_fr(
    result: WhatIfResult, sites: gpd.GeoDataFrame, group_names: Mapping[str, str] | None = None
) -> tuple[str, list]:
    """The failure as a planner reads it (names, not codes or WKT), and its area if any."""
    params = result.provenance.parameters if result.provenance else {}
    parts = []
    area = shapely.from_wkt(params["area"]) if params.get("area") else None
    if area is not None:
        centre = area.centroid
        radius_km = np.sqrt(area.area / np.pi) / 1000
        parts.append(
            f"zone sinistrée d'environ {number_fr(radius_km, 1)} km de rayon autour de"
            f" X {number_fr(centre.x)} m, Y {number_fr(centre.y)} m (Lambert-93)"
        )
    if params.get("risk_groups"):
        names = group_names or {}
        parts.append(
            "risque partagé : "
            + ", ".join(str(names.get(code) or code) for code in params["risk_groups"])
        )
    if params.get("sites"):
        parts.append("sites détruits : " + _names(sites, params["sites"]))
    named = [s for s in params.get("segments", []) if s]
    if named and area is None and not params.get("risk_groups"):
        parts.append(f"{_thousands(len(named))} tronçon(s) coupé(s) : " + ", ".join(named[:5]))
    return "; ".join(parts) or "aucune panne", ([area] if area is not None else [])


def whatif_map(
    result: WhatIfResult,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
    settings: MapSettings | None = None,
    tiles: str | None = None,
    risk_groups: pd.DataFrame | None = None,
) -> MapDocument:
    """The failure drawn (its area, cut segments, destroyed sites) and the sites it isolates.

    ``risk_groups`` (code, name): the shared risks are named in the title, not coded.
    """
    settings = settings or MapSettings()
    names = (
        {}
        if risk_groups is None or not len(risk_groups)
        else dict(zip(risk_groups["code"], risk_groups["name"], strict=True))
    )
    scenario, area = _scenario_fr(result, sites, names)
    cut = segments[segments["code"].isin(result.cut_segments)]
    cut_sites = sites[sites["code"].isin(result.cut_sites)]
    isolated = (
        sites[sites["code"].isin(result.sites_cut_off["code"])]
        if len(result.sites_cut_off)
        else sites.iloc[:0]
    )
    layers = [
        *background_layers(boundaries or {}, settings),
        *segment_layers(segments, settings),
        *site_layers(sites[~sites["kind"].isin(list(_PASSIVE_KINDS))], settings),
        _highlight_segments(
            "cut-segments",
            "Tronçons coupés",
            cut,
            {"color": "#000000", "weight": 7, "dashArray": "3 6"},
            settings,
        ),
        _highlight_sites(
            "cut-sites",
            "Sites détruits",
            cut_sites,
            {**_HIGHLIGHT_SITE, "color": "#000000"},
            settings=settings,
        ),
        _highlight_sites(
            "isolated", "Sites isolés du cœur", isolated, _HIGHLIGHT_SITE, settings=settings
        ),
    ]
    if area:
        zone = gpd.GeoDataFrame({"name": ["Zone sinistrée"]}, geometry=area, crs=segments.crs)
        layers.insert(
            len(layers) - 3,
            make_layer(
                "scenario-area",
                "Zone sinistrée",
                zone,
                kind="polygon",
                classes=[_AREA_STYLE],
                interactive=False,
            ),
        )
    # the worst news first: core sites (datacentres, CHATONs) left with no path to the rest
    # of the core, drawn larger than the other isolated sites
    lost = result.core_isolated
    core_lost = (
        sites[sites["code"].isin(lost["code"])]
        if lost is not None and len(lost)
        else sites.iloc[:0]
    )
    layers.append(
        _highlight_sites("core-isolated", "Sites du cœur isolés", core_lost, {**_CORE_LOST_SITE})
    )
    provenance = result.provenance
    version = (
        version_fr(provenance.version) if provenance and provenance.version else "graphe en mémoire"
    )
    core_note = (
        f"{_thousands(len(core_lost))} site(s) du cœur sans chemin vers le reste du cœur, "
        if len(core_lost)
        else ""
    )
    return MapDocument(
        title="Simulation de panne : " + scenario,
        subtitle=(
            f"{core_note}{_thousands(len(cut))} tronçons coupés, "
            f"{_thousands(len(isolated))} sites isolés, "
            f"{number_fr(result.fibre_km_lost)} fibre·km perdus"
        ),
        # framed on what the failure touches, with the network around it
        bounds=bounds_of(cut, cut_sites, isolated)
        if len(cut) or len(cut_sites)
        else bounds_of(segments, sites),
        layers=layers,
        legend=[
            {
                "title": "Panne",
                "items": [
                    *(
                        [
                            {
                                "label": "Zone sinistrée",
                                "shape": "area",
                                "color": _AREA_STYLE["color"],
                                "fillColor": "#dddddd",
                            }
                        ]
                        if area
                        else []
                    ),
                    {
                        "label": f"Tronçon coupé ({_thousands(len(cut))})",
                        "color": "#000000",
                        "weight": 6,
                        "dashArray": "3 6",
                    },
                    {
                        "label": f"Site détruit ({_thousands(len(cut_sites))})",
                        "shape": "circle",
                        "color": "#000000",
                        "fillColor": "#ffffff",
                    },
                    {
                        "label": f"Site isolé du cœur ({_thousands(len(isolated))})",
                        "shape": "circle",
                        "color": "#d7191c",
                        "fillColor": "#ffffff",
                    },
                    {
                        "label": "Site du cœur isolé du reste du cœur"
                        f" ({_thousands(len(core_lost))})",
                        "shape": "circle",
                        "color": _CORE_LOST_SITE["color"],
                        "fillColor": _CORE_LOST_SITE["fillColor"],
                    },
                ],
            }
        ],
        provenance=provenance_rows(
            version,
            {
                "Scénario": scenario,
                "Sites du cœur isolés du reste du cœur": _names(core_lost, core_lost["code"])
                or "aucun",
                "Sites isolés": _names(isolated, isolated["code"]) or "aucun",
                "Itinéraires": "de chaque site vers le cœur le plus proche",
            },
            boundaries,
        ),
        search=site_search(layers),
        tiles=tiles,
        max_zoom=settings.max_zoom,
    )
