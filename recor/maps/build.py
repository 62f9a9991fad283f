"""Read the registry and build each kind of map (the I/O edge of :mod:`recor.maps`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx
import psycopg
import shapely

from recor import network, registry
from recor.config import Settings
from recor.coverage import CoverageResult, coverage, grid_cells
from recor.domain import Status
from recor.errors import NotFound
from recor.maps.analysis_maps import redundancy_map, route_map, whatif_map
from recor.maps.coverage_map import coverage_map
from recor.maps.document import MapDocument
from recor.maps.network_map import network_map
from recor.maps.privacy import Level
from recor.maps.territory import reconcile
from recor.network import RedundancyReport
from recor.registry.reference import read_cog, read_reference

__all__ = [
    "DEFAULT_LEVEL",
    "MAP_KINDS",
    "build_coverage",
    "build_coverage_map",
    "build_network_map",
    "build_redundancy_map",
    "build_route_map",
    "build_whatif_map",
    "reference_layers",
    "resilience_report",
    "write_standard_maps",
]

MAP_KINDS: tuple[str, ...] = ("network", "coverage", "redundancy", "route", "whatif")

#: Level of the shared resilience definition, as ``recor redundancy``'s default.
DEFAULT_LEVEL = "srlg"


def reference_layers(conn: psycopg.Connection) -> dict[str, gpd.GeoDataFrame]:
    """The boundary layers present in the registry (communes, EPCI, départements, région).

    With the official geographic code imported, ``communes`` are the current communes
    (population, EPCI, chief towns, label zooms) reconciled with the polygons
    (:func:`recor.maps.territory.reconcile`; its summary in ``communes.attrs``) and
    ``epci`` the union of their members.
    """
    layers = {}
    for kind in ("region", "departements", "arrondissements", "communes"):
        frame = read_reference(conn, kind, missing_ok=True)
        if not frame.empty:
            layers[kind] = frame
    cog = read_cog(conn)
    if "communes" in layers and not cog.empty:
        territory = reconcile(
            layers["communes"], cog, arrondissements=layers.get("arrondissements")
        )
        layers["communes"] = territory.communes
        layers["communes"].attrs["reconciliation"] = territory.summary_fr()
        layers["communes"].attrs["reconciled"] = territory.reconciliation
        layers["epci"] = territory.epcis
    layers.pop("arrondissements", None)
    return layers


def _units(
    boundaries: dict[str, gpd.GeoDataFrame], segments: gpd.GeoDataFrame, settings: Settings
) -> tuple[gpd.GeoDataFrame, str]:
    if "communes" in boundaries:
        return boundaries["communes"], "communes"
    live = segments[segments["status"] == Status.IN_SERVICE]
    if live.empty:
        raise NotFound("no in-service segment and no communes: nothing to analyse")
    return grid_cells(live, settings.maps.grid_cell_m), "grid"


def build_network_map(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    level: Level = "internal",
    tiles: str | None = None,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
) -> MapDocument:
    """The network map of the registry as it is now."""
    return network_map(
        registry.read_sites(conn),
        registry.read_segments(conn),
        version=registry.registry_version(conn).label(),
        settings=settings.maps,
        level=level,
        boundaries=reference_layers(conn) if boundaries is None else boundaries,
        tiles=tiles,
    )


def resilience_report(
    graph: nx.MultiGraph,
    settings: Settings,
    *,
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
) -> RedundancyReport:
    """The one resilience definition of every output: ``recor redundancy``'s report.

    Single-homed sites, the coverage table's count of them and the redundancy map all come
    from this report: same core (the sites named, else every site of a core kind,
    ``NetworkSettings.core_kinds``) and same level (``srlg`` unless asked otherwise).
    """
    return network.redundancy_report(
        graph, core=list(core) if core else None, level=level, settings=settings.network
    )


def build_coverage(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    single_homed: Iterable[str] | None = None,
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
) -> CoverageResult:
    """Coverage per commune (or per grid cell when no communes are loaded).

    Single-homed sites are those of :func:`resilience_report` (``core``, ``level``) unless
    given.
    """
    sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    boundaries = reference_layers(conn) if boundaries is None else boundaries
    units, kind = _units(boundaries, segments, settings)
    if single_homed is None:
        graph = network.load_graph(conn)
        report = resilience_report(graph, settings, core=core, level=level)
        single_homed = report.single_homed["code"]
    return coverage(
        units,
        sites,
        segments,
        departements=boundaries.get("departements"),
        single_homed=single_homed,
        settings=settings.maps,
        unit_kind=kind,
        version=registry.registry_version(conn).label(),
    )


def build_redundancy_map(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tiles: str | None = None,
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
) -> MapDocument:
    """Bridges, articulation and single-homed sites; units by independent paths to the core.

    The report is :func:`resilience_report`: the same single-homed sites as ``recor
    redundancy`` and the coverage table for the same ``core`` and ``level``.
    """
    sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    boundaries = reference_layers(conn) if boundaries is None else boundaries
    units, kind = _units(boundaries, segments, settings)
    report = resilience_report(network.load_graph(conn), settings, core=core, level=level)
    return redundancy_map(
        report,
        sites,
        segments,
        units,
        unit_kind=kind,
        boundaries=boundaries,
        settings=settings.maps,
        tiles=tiles,
    )


def build_route_map(
    conn: psycopg.Connection,
    settings: Settings,
    source: str,
    target: str,
    *,
    disjointness: str = "srlg",
    tiles: str | None = None,
) -> MapDocument:
    """A route between two sites (code or name) and its most diverse alternative."""
    graph = network.load_graph(conn)
    pair = network.diverse_pair(
        graph, source, target, disjointness=disjointness, settings=settings.network
    )
    return route_map(
        pair,
        registry.read_sites(conn),
        registry.read_segments(conn),
        boundaries=reference_layers(conn),
        settings=settings.maps,
        tiles=tiles,
    )


def build_whatif_map(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    segments: Sequence[str] = (),
    sites: Sequence[str] = (),
    risk_groups: Sequence[str] = (),
    circle: tuple[float, float, float] | None = None,
    tiles: str | None = None,
    core: Sequence[str] | None = None,
) -> MapDocument:
    """A failure (segments, sites, groups or a disk in EPSG:2154) and the sites it isolates.

    With nothing given, the worst 5 km disk of the network is shown. ``core``: the sites
    named (default: every site of a core kind).
    """
    core = list(core) if core else None
    graph = network.load_graph(conn)
    area = None
    if circle is not None:
        area = network.circle(*circle)
    elif not (segments or sites or risk_groups):
        worst = network.worst_disk_failure(graph, 5000.0, core=core, settings=settings.network)
        area = shapely.buffer(worst.centre, worst.radius_m)
    result = network.what_if(
        graph,
        segments=segments,
        sites=sites,
        risk_groups=risk_groups,
        area=area,
        core=core,
        settings=settings.network,
    )
    return whatif_map(
        result,
        registry.read_sites(conn),
        registry.read_segments(conn),
        boundaries=reference_layers(conn),
        settings=settings.maps,
        tiles=tiles,
    )


def build_coverage_map(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    level: Level = "internal",
    tiles: str | None = None,
    result: CoverageResult | None = None,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
) -> MapDocument:
    """The coverage map (communes, or grid cells when no communes are loaded)."""
    boundaries = reference_layers(conn) if boundaries is None else boundaries
    result = result or build_coverage(conn, settings, boundaries=boundaries)
    return coverage_map(
        result,
        registry.read_segments(conn),
        settings=settings.maps,
        tiles=tiles,
        level=level,
        sites=registry.read_sites(conn),
        boundaries=boundaries,
    )


def write_standard_maps(
    conn: psycopg.Connection,
    settings: Settings,
    folder: Path | str,
    *,
    level: Level = "internal",
    core: Sequence[str] | None = None,
    resilience_level: str = DEFAULT_LEVEL,
) -> dict[str, Path]:
    """Write the network, coverage and redundancy maps (and the coverage CSV) to a folder.

    The redundancy map is internal only (it locates CHATON nodes and chambers): a public
    pack holds the network and coverage maps.
    """
    target = Path(folder)
    boundaries = reference_layers(conn)
    result = build_coverage(
        conn, settings, core=core, level=resilience_level, boundaries=boundaries
    )
    coverage_doc = build_coverage_map(
        conn, settings, level=level, result=result, boundaries=boundaries
    )
    network_doc = build_network_map(conn, settings, level=level, boundaries=boundaries)
    paths = {
        "network": network_doc.write(target / "network.html"),
        "coverage": coverage_doc.write(target / "coverage.html"),
    }
    del network_doc, coverage_doc
    if level == "internal":
        doc = build_redundancy_map(
            conn, settings, core=core, level=resilience_level, boundaries=boundaries
        )
        paths["redundancy"] = doc.write(target / "redundancy.html")
    paths.update({f"csv_{k}": v for k, v in result.write_csv(target).items()})
    return paths
