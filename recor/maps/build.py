"""Build each kind of map from one registry snapshot (the I/O edge of :mod:`recor.maps`).

Every builder takes a :class:`recor.registry.RegistrySnapshot` (data, not a connection):
a command reads the registry once and builds the graph and the resilience report once,
then hands them to every builder. :func:`write_standard_maps` is ``recor map all``'s one
orchestration place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import psycopg
import shapely

from recor import network, registry
from recor.config import Settings
from recor.coverage import CoverageResult, coverage, grid_cells
from recor.domain import Status
from recor.errors import NotFound
from recor.maps._fr import version_fr
from recor.maps.analysis_maps import redundancy_map, route_map, whatif_map
from recor.maps.compare import Side, compare, with_planned_build
from recor.maps.comparison_map import comparison_map
from recor.maps.coverage_map import coverage_map
from recor.maps.document import MapDocument
from recor.maps.network_map import network_map
from recor.maps.privacy import Level
from recor.maps.territory import reconcile
from recor.network import RedundancyReport
from recor.registry import RegistrySnapshot

__all__ = [
    "COMPARABLE_KINDS",
    "DEFAULT_LEVEL",
    "MAP_KINDS",
    "build_comparison_map",
    "build_coverage",
    "build_coverage_map",
    "build_network_map",
    "build_planned_map",
    "build_redundancy_map",
    "build_route_map",
    "build_whatif_map",
    "reference_layers",
    "resilience_graph",
    "resilience_report",
    "standard_maps",
    "write_standard_maps",
]

MAP_KINDS: tuple[str, ...] = ("network", "coverage", "redundancy", "route", "whatif")

#: Map kinds that can be compared between two dates or with the planned build.
COMPARABLE_KINDS: tuple[str, ...] = ("network", "coverage", "redundancy")

#: Level of the shared resilience definition, as ``recor redundancy``'s default.
DEFAULT_LEVEL = "srlg"


def reference_layers(snap: RegistrySnapshot) -> dict[str, gpd.GeoDataFrame]:
    """The boundary layers of the snapshot (communes, EPCI, départements, région, and the
    cantons and arrondissements drawn as overlays off by default).

    With the official geographic code imported, ``communes`` are the current communes
    (population, EPCI, chief towns, label zooms) reconciled with the polygons
    (:func:`recor.maps.territory.reconcile`; its summary in ``communes.attrs``) and
    ``epci`` the union of their members.
    """
    layers = {
        kind: snap.references[kind]
        for kind in ("region", "departements", "arrondissements", "cantons", "communes")
        if kind in snap.references
    }
    if "communes" in layers and not snap.cog.empty:
        territory = reconcile(
            layers["communes"], snap.cog, arrondissements=layers.get("arrondissements")
        )
        layers["communes"] = territory.communes
        layers["communes"].attrs["reconciliation"] = territory.summary_fr()
        layers["communes"].attrs["reconciled"] = territory.reconciliation
        layers["epci"] = territory.epcis
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
    snap: RegistrySnapshot,
    settings: Settings,
    *,
    level: Level = "internal",
    tiles: str | None = None,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
) -> MapDocument:
    """The network map of the snapshot."""
    return network_map(
        snap.sites,
        snap.segments,
        version=version_fr(snap.version),
        settings=settings.maps,
        level=level,
        boundaries=reference_layers(snap) if boundaries is None else boundaries,
        tiles=tiles,
    )


def resilience_graph(snap: RegistrySnapshot) -> nx.MultiGraph:
    """The in-service graph of the snapshot, as ``recor redundancy`` builds it."""
    return network.snapshot_graph(snap)


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
    snap: RegistrySnapshot,
    settings: Settings,
    *,
    single_homed: Iterable[str] | None = None,
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
    report: RedundancyReport | None = None,
    units: tuple[gpd.GeoDataFrame, str] | None = None,
) -> CoverageResult:
    """Coverage per commune (or per grid cell when no communes are loaded).

    Single-homed sites are those given, else those of ``report``, else those of
    :func:`resilience_report` (``core``, ``level``) computed here. ``units``: the units and
    their kind (``communes``, ``grid``) when the caller chose them (a comparison covers two
    states with the same grid).
    """
    boundaries = reference_layers(snap) if boundaries is None else boundaries
    units, kind = units or _units(boundaries, snap.segments, settings)
    if single_homed is None:
        if report is None:
            report = resilience_report(resilience_graph(snap), settings, core=core, level=level)
        single_homed = report.single_homed["code"]
    return coverage(
        units,
        snap.sites,
        snap.segments,
        departements=boundaries.get("departements"),
        single_homed=single_homed,
        settings=settings.maps,
        unit_kind=kind,
        version=snap.version.label(),
    )


def build_redundancy_map(
    snap: RegistrySnapshot,
    settings: Settings,
    *,
    tiles: str | None = None,
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
    report: RedundancyReport | None = None,
) -> MapDocument:
    """Bridges, articulation and single-homed sites; units by independent paths to the core.

    The report is :func:`resilience_report` (given, or computed for ``core`` and
    ``level``): the same single-homed sites as ``recor redundancy`` and the coverage table.
    """
    boundaries = reference_layers(snap) if boundaries is None else boundaries
    units, kind = _units(boundaries, snap.segments, settings)
    if report is None:
        report = resilience_report(resilience_graph(snap), settings, core=core, level=level)
    return redundancy_map(
        report,
        snap.sites,
        snap.segments,
        units,
        unit_kind=kind,
        boundaries=boundaries,
        settings=settings.maps,
        tiles=tiles,
    )


def build_route_map(
    snap: RegistrySnapshot,
    settings: Settings,
    source: str,
    target: str,
    *,
    disjointness: str = "srlg",
    tiles: str | None = None,
) -> MapDocument:
    """A route between two sites (code or name) and its most diverse alternative."""
    pair = network.diverse_pair(
        resilience_graph(snap),
        source,
        target,
        disjointness=disjointness,
        settings=settings.network,
    )
    return route_map(
        pair,
        snap.sites,
        snap.segments,
        boundaries=reference_layers(snap),
        settings=settings.maps,
        tiles=tiles,
    )


def build_whatif_map(
    snap: RegistrySnapshot,
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
    graph = resilience_graph(snap)
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
        snap.sites,
        snap.segments,
        boundaries=reference_layers(snap),
        settings=settings.maps,
        tiles=tiles,
        risk_groups=snap.risk_groups,
    )


def build_coverage_map(
    snap: RegistrySnapshot,
    settings: Settings,
    *,
    level: Level = "internal",
    tiles: str | None = None,
    result: CoverageResult | None = None,
    boundaries: dict[str, gpd.GeoDataFrame] | None = None,
) -> MapDocument:
    """The coverage map (communes, or grid cells when no communes are loaded)."""
    boundaries = reference_layers(snap) if boundaries is None else boundaries
    result = result or build_coverage(snap, settings, boundaries=boundaries)
    # the CSV files keep the registry's own label; the map says it in French
    return coverage_map(
        dataclasses.replace(result, version=version_fr(snap.version)),
        snap.segments,
        settings=settings.maps,
        tiles=tiles,
        level=level,
        sites=snap.sites,
        boundaries=boundaries,
    )


def standard_maps(
    snap: RegistrySnapshot,
    settings: Settings,
    folder: Path | str,
    *,
    level: Level = "internal",
    core: Sequence[str] | None = None,
    resilience_level: str = DEFAULT_LEVEL,
) -> dict[str, Path]:
    """Write the network, coverage and redundancy maps (and the coverage CSV) of a snapshot.

    The boundaries are reconciled once and the graph and resilience report computed once,
    shared by the coverage table and the redundancy map. The redundancy map is internal
    only (it locates CHATON nodes and chambers): a public pack holds the network and
    coverage maps.
    """
    target = Path(folder)
    boundaries = reference_layers(snap)
    report = resilience_report(resilience_graph(snap), settings, core=core, level=resilience_level)
    result = build_coverage(snap, settings, boundaries=boundaries, report=report)
    paths = {
        "network": build_network_map(snap, settings, level=level, boundaries=boundaries).write(
            target / "network.html"
        ),
        "coverage": build_coverage_map(
            snap, settings, level=level, result=result, boundaries=boundaries
        ).write(target / "coverage.html"),
    }
    if level == "internal":
        doc = build_redundancy_map(snap, settings, boundaries=boundaries, report=report)
        paths["redundancy"] = doc.write(target / "redundancy.html")
    paths.update({f"csv_{k}": v for k, v in result.write_csv(target).items()})
    return paths


def write_standard_maps(
    conn: psycopg.Connection,
    settings: Settings,
    folder: Path | str,
    *,
    level: Level = "internal",
    core: Sequence[str] | None = None,
    resilience_level: str = DEFAULT_LEVEL,
) -> dict[str, Path]:
    """``recor map all``: read the registry once (:func:`recor.registry.snapshot`), then
    :func:`standard_maps`."""
    return standard_maps(
        registry.snapshot(conn),
        settings,
        folder,
        level=level,
        core=core,
        resilience_level=resilience_level,
    )


def _side(
    snap: RegistrySnapshot,
    settings: Settings,
    label: str,
    *,
    core: Sequence[str] | None,
    level: str,
    boundaries: dict[str, gpd.GeoDataFrame],
    units: tuple[gpd.GeoDataFrame, str] | None,
) -> Side:
    """One compared state: its resilience report and, given units, its coverage."""
    report = resilience_report(resilience_graph(snap), settings, core=core, level=level)
    result = (
        None
        if units is None
        else build_coverage(snap, settings, boundaries=boundaries, report=report, units=units)
    )
    return Side(label, snap.sites, snap.segments, report, result)


def build_comparison_map(
    before: RegistrySnapshot,
    after: RegistrySnapshot,
    settings: Settings,
    *,
    kind: str = "network",
    planned: bool = False,
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
    tiles: str | None = None,
) -> MapDocument:
    """What changed from ``before`` to ``after`` (two dates, or the planned build).

    Both states get the same resilience definition (``core``, ``level``); with
    ``kind="coverage"`` both are covered too and the units whose band changed are drawn.
    The boundaries are the current ones (those of ``after``).
    """
    if kind not in COMPARABLE_KINDS:
        raise ValueError(f"map {kind}: only {', '.join(COMPARABLE_KINDS)} can be compared")
    boundaries = reference_layers(after)
    units = None
    if kind == "coverage":
        # one set of units for both states: the communes, or one grid over both networks
        both = pd.concat([before.segments, after.segments], ignore_index=True)
        units = _units(boundaries, gpd.GeoDataFrame(both, crs=after.segments.crs), settings)
    after_label = (
        version_fr(after.version) + ", avec la construction prévue faite"
        if planned
        else version_fr(after.version)
    )
    first = _side(
        before,
        settings,
        version_fr(before.version),
        core=core,
        level=level,
        boundaries=boundaries,
        units=units,
    )
    second = _side(
        after,
        settings,
        after_label,
        core=core,
        level=level,
        boundaries=boundaries,
        units=units,
    )
    covered = None
    if first.coverage is not None and second.coverage is not None:
        covered = (first.coverage, second.coverage)
    return comparison_map(
        compare(first, second, planned=planned),
        after.sites,
        after.segments,
        kind=kind,
        level=level,
        coverage=covered,
        boundaries=boundaries,
        settings=settings.maps,
        tiles=tiles,
    )


def build_planned_map(
    snap: RegistrySnapshot,
    settings: Settings,
    *,
    kind: str = "network",
    core: Sequence[str] | None = None,
    level: str = DEFAULT_LEVEL,
    tiles: str | None = None,
) -> MapDocument:
    """The network after the planned build (:func:`recor.maps.compare.with_planned_build`):
    what is put in service and which single-homed sites gain a second path."""
    return build_comparison_map(
        snap,
        with_planned_build(snap),
        settings,
        kind=kind,
        planned=True,
        core=core,
        level=level,
        tiles=tiles,
    )
