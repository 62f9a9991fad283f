"""The coverage map: communes (or grid cells) coloured by distance band, the bands around
the network, and the département summary table."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from recor.config import MapSettings
from recor.coverage import CoverageResult, band_column
from recor.domain import SITE_KIND_LABELS_FR, SiteKind, Status
from recor.maps._common import (
    background_layers,
    bounds_of,
    commune_fields,
    provenance_rows,
    segment_layers,
    site_layers,
    site_search,
    with_commune_details,
)
from recor.maps._fr import km_fr, number_fr
from recor.maps.document import MapDocument, french_time, make_layer
from recor.maps.privacy import Level, publishable
from recor.maps.styles import BAND_COLOURS

__all__ = ["band_labels", "coverage_map", "summary_table", "territory_tables"]


def band_labels(bands_km: tuple[float, ...]) -> list[str]:
    """French labels of the bands: ``à moins de 1 km`` ... ``au-delà de 10 km``."""
    labels = [f"Réseau à moins de {km_fr(bands_km[0])} km"]
    labels += [f"De {km_fr(a)} à {km_fr(b)} km" for a, b in itertools.pairwise(bands_km)]
    labels.append(f"Au-delà de {km_fr(bands_km[-1])} km")
    return labels


def summary_table(result: CoverageResult) -> dict:
    """The département summary as a table for the map (French headings)."""
    bands = result.bands_km
    columns = ["Territoire", "Linéaire en service (km)", "Unités"]
    columns += [f"Unités à ≤ {km_fr(b)} km" for b in bands]
    columns += [f"Surface à ≤ {km_fr(bands[-1])} km (%)", "Sites raccordés", "Sites mono-raccordés"]
    rows = []
    for row in result.summary.itertuples(index=False):
        values = row._asdict()
        share = values[f"area_within_{bands[-1]:g}km_km2"] / values["area_km2"] * 100
        rows.append(
            [
                values["name"],
                round(values["km_in_service"], 1),
                values["units"],
                *[values[f"units_within_{b:g}km"] for b in bands],
                round(share, 1),
                values["sites_connected"],
                values["single_homed_sites"],
            ]
        )
    unit = "communes" if result.unit_kind == "communes" else "mailles"
    return {"title": f"Synthèse par département ({unit})", "columns": columns, "rows": rows}


def _cell(value):
    """A table cell: None for unknown (the page says "inconnue"), plain numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def territory_tables(result: CoverageResult) -> list[dict]:
    """The département summary, then per EPCI and per commune tables (French headings),
    each sortable, searchable and downloadable as CSV in the page."""
    tables = [{**summary_table(result), "title": "Départements", "csv": "departements.csv"}]
    bands = result.bands_km
    epci = result.epci()
    if not epci.empty:
        columns = ["EPCI", "Code SIREN", "Communes", "Population"]
        columns += [f"Population à ≤ {km_fr(b)} km du réseau" for b in bands]
        columns += ["Sites publics raccordés"]
        rows = [
            [
                _cell(v)
                for v in (
                    row["name"],
                    row["code"],
                    row["communes"],
                    row["population"],
                    *[row[f"population_within_{b:g}km"] for b in bands],
                    row["connected_public_sites"],
                )
            ]
            for _, row in epci.iterrows()
        ]
        tables.append(
            {
                "title": "EPCI",
                "columns": columns,
                "rows": rows,
                "csv": "epci.csv",
                "missing": "inconnue",
            }
        )
    if result.unit_kind == "communes":
        units = result.units
        columns = ["Commune", "Code INSEE", "Département", "EPCI", "Population"]
        columns += ["Distance au réseau (km)", "Sites publics raccordés"]
        population = (
            units["population"] if "population" in units else pd.Series(pd.NA, index=units.index)
        )
        epci_names = (
            units["epci_name"] if "epci_name" in units else pd.Series(None, index=units.index)
        )
        rows = [
            [
                _cell(v)
                for v in (
                    name,
                    code,
                    dept,
                    epci_name,
                    pop,
                    round(dist / 1000, 2) if pd.notna(dist) else None,
                    public,
                )
            ]
            for name, code, dept, epci_name, pop, dist, public in zip(
                units["name"],
                units["code"],
                units["departement"],
                epci_names,
                population,
                units["dist_network_m"],
                units["connected_public_sites"],
                strict=True,
            )
        ]
        tables.append(
            {
                "title": "Communes",
                "columns": columns,
                "rows": rows,
                "csv": "communes.csv",
                "missing": "inconnue",
            }
        )
    return tables


def coverage_map(
    result: CoverageResult,
    segments: gpd.GeoDataFrame,
    *,
    settings: MapSettings | None = None,
    tiles: str | None = None,
    level: Level = "internal",
    sites: gpd.GeoDataFrame | None = None,
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> MapDocument:
    """Build the coverage map of a :func:`recor.coverage.coverage` result.

    With ``level="public"``, the drawn segments are those of :func:`publishable` (cut at the
    cells of CHATON nodes, public attributes only); ``sites`` is then required.
    ``boundaries``: the context drawn around the units (EPCI, départements, names).
    """
    boundaries = boundaries or {}
    settings = settings or MapSettings()
    if level == "public":
        if sites is None:
            raise ValueError("a public coverage map needs the sites (to hide CHATON nodes)")
        sites, segments = publishable(sites, segments, coarsen_m=settings.public_coarsen_m)
    bands = result.bands_km
    labels = band_labels(bands)
    if result.unit_kind == "communes":
        units = with_commune_details(result.units, boundaries.get("departements"))
    else:
        units = result.units.assign(detail_fr=f"maille de {km_fr(settings.grid_cell_m / 1000)} km")
    units["band_fr"] = [labels[b] for b in units["band"]]
    units["dist_network_km"] = (units["dist_network_m"] / 1000).round(2)
    units["dist_presence_km"] = (units["dist_presence_m"] / 1000).round(2)
    for b in bands:
        units[f"pct_{b:g}"] = (units[band_column(b)] * 100).round(1)
    units["public_fr"] = units["has_connected_public_site"].map({True: "oui", False: "non"})
    fields = [
        *(commune_fields(units) if result.unit_kind == "communes" else [("code", "Code")]),
        ("band_fr", "Classe"),
        ("dist_network_km", "Distance au réseau en service (km)"),
        ("nearest_presence", "Point de présence le plus proche"),
        ("dist_presence_km", "Distance au point de présence (km)"),
        *[(f"pct_{b:g}", f"Surface à moins de {km_fr(b)} km (%)") for b in bands],
        ("public_fr", "Site public raccordé"),
        ("area_km2", "Surface (km²)"),
    ]
    units["area_km2"] = units["area_km2"].round(2)
    colours = [BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)] for i in range(len(bands))]
    colours.append(BAND_COLOURS[-1])
    classes = [
        {"color": "#666666", "weight": 0.4, "fillColor": c, "fillOpacity": 0.65} for c in colours
    ]
    unit_name = "Communes" if result.unit_kind == "communes" else "Mailles"
    layers = [
        make_layer(
            "units",
            f"{unit_name} par distance au réseau",
            units,
            kind="polygon",
            classes=classes,
            style_class=units["band"],
            popup_title="name",
            popup_fields=fields,
            tolerance_m=settings.boundary_simplify_m,
            data_columns=("detail_fr",),
            bulk=len(units) > settings.overview_max_polygons,
        ),
        *background_layers(boundaries, settings, communes=False),
    ]
    live = segments[segments["status"] == Status.IN_SERVICE]
    zones = result.zones
    if zones is not None and not zones.empty:
        # the covered parts of the units, merged band by band: a union of unit pieces
        # (bounded by the territory's detail), never of the network's lines
        rings = gpd.GeoDataFrame(
            {"band": [f"{km_fr(b)} km" for b in bands]},
            geometry=[
                shapely.union_all(zones.geometry.values[(zones["band_km"] == b).to_numpy()])
                for b in bands
            ],
            crs=zones.crs,
        )
        layers.append(
            make_layer(
                "bands",
                "Zones autour du réseau",
                rings,
                kind="polygon",
                classes=[{"color": "#252525", "weight": 1, "dashArray": "4 4", "fill": False}],
                tolerance_m=settings.boundary_simplify_m,
                interactive=False,
            )
        )
    if not live.empty:
        layers.extend(segment_layers(live, settings))
    if sites is not None:
        # the sites that serve the territory (chambers and junctions are duct detail)
        served = sites[~sites["kind"].isin([SiteKind.CHAMBER, SiteKind.JUNCTION])]
        layers.extend(site_layers(served, settings))
    legend = [
        {
            "title": "Distance au réseau en service",
            "items": [
                {"label": label, "shape": "area", "color": "#666666", "fillColor": colour}
                for label, colour in zip(labels, colours, strict=True)
            ],
        }
    ]
    parameters = {
        "Unités": "communes"
        if result.unit_kind == "communes"
        else f"mailles de {km_fr(settings.grid_cell_m / 1000)} km",
        "Bandes de distance": ", ".join(f"{km_fr(b)} km" for b in bands),
        "Points de présence": ", ".join(
            SITE_KIND_LABELS_FR.get(k, str(k)).lower() for k in settings.presence_kinds
        ),
        "Analyse calculée le": french_time(result.computed_at),
    }
    return MapDocument(
        title="Couverture du territoire par le réseau RECOR",
        subtitle=f"{number_fr(len(units))} {unit_name.lower()} analysées",
        bounds=bounds_of(result.units),
        layers=layers,
        legend=legend,
        provenance=provenance_rows(result.version, parameters, boundaries),
        table=territory_tables(result),
        search=site_search(layers),
        tiles=tiles,
        max_zoom=settings.max_zoom,
    )
