"""``recor route``, ``recor diverse``, ``recor redundancy``, ``recor whatif``."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from recor import network, registry
from recor.cli._args import area_argument, circle
from recor.config import STORAGE_CRS, Settings
from recor.domain import Status
from recor.errors import NotFound
from recor.outputs import safe_table

__all__ = ["register"]

#: A group can split the network without isolating any site from the (merged) core.
_NONE_CUT_OFF = "none (each part keeps a core site)"
#: ... or because its segments had no path to the core before the cut (a delivery not yet tied
#: to the network).
_ALREADY_CUT_OFF = "none (its segments had no path to the core already)"


def _cut_without_core(
    graph: nx.MultiGraph, segments: tuple[str, ...], core: list[str] | None, settings: Settings
) -> bool:
    """True when every end of the cut segments had no path to any core site before the cut."""
    wanted = set(segments)
    ends = {n for u, v, k in graph.edges(keys=True) if k in wanted for n in (u, v)}
    if not ends:
        return False
    cores = set(network.core_sites(graph, core, settings.network))
    seen: set[str] = set()
    for end in ends:
        if end in seen:
            continue
        part = nx.node_connected_component(graph, end)
        if cores & part:
            return False
        seen |= part
    return True


def _already_cut_off(graph: nx.MultiGraph, report: network.RedundancyReport) -> set[str]:
    """Splitting groups whose segments all end on sites without any path to the core."""
    wanted = {s for c in report.srlg_cuts if not c.sites_cut_off for s in c.segments}
    if not wanted:
        return set()
    ends = {k: (u, v) for u, v, k in graph.edges(keys=True) if k in wanted}
    paths = report.sites.set_index("code")["edge_paths"]
    return {
        c.group
        for c in report.srlg_cuts
        if not c.sites_cut_off
        and all(paths.get(site, 1) == 0 for s in c.segments for site in ends.get(s, ("",)))
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the four network commands."""
    route = subparsers.add_parser("route", help="shortest or k shortest routes between two sites")
    _ends(route)
    route.add_argument("--k", type=_positive_int, default=1, help="number of routes (default 1)")
    route.add_argument("--weight", choices=("length", "joints"), default="length")
    route.add_argument("--per-km", type=float, help="cost model: cost per km")
    route.add_argument("--per-joint", type=float, help="cost model: cost per joint")
    route.add_argument("--budget-db", type=float, help="transceiver budget: pass/fail per route")
    route.add_argument(
        "--wavelength", type=int, choices=(1310, 1550), default=1550, help="nm (default 1550)"
    )
    _constraints(route)
    _common(route)
    route.set_defaults(handler=_route)

    diverse = subparsers.add_parser("diverse", help="the most diverse pair of routes")
    _ends(diverse)
    diverse.add_argument("--level", choices=network.DISJOINTNESS, default="srlg")
    _constraints(diverse)
    _common(diverse)
    diverse.set_defaults(handler=_diverse)

    redundancy = subparsers.add_parser("redundancy", help="weak points and single-homed sites")
    redundancy.add_argument("--core", nargs="+", metavar="SITE", help="core sites (default: DCs)")
    redundancy.add_argument("--level", choices=network.LEVELS, default="srlg")
    redundancy.add_argument(
        "--top", type=_non_negative_int, default=20, help="single-homed sites shown"
    )
    _common(redundancy)
    redundancy.set_defaults(handler=_redundancy)

    whatif = subparsers.add_parser("whatif", help="simulate a failure, or find the worst disk")
    whatif.add_argument("--segment", nargs="+", default=[], metavar="CODE")
    whatif.add_argument("--group", nargs="+", default=[], metavar="CODE", help="shared-risk group")
    whatif.add_argument("--site", nargs="+", default=[], metavar="SITE")
    whatif.add_argument(
        "--area", type=area_argument, metavar="FILE|WKT", help="polygon (EPSG:2154 WKT or a file)"
    )
    whatif.add_argument("--circle", type=circle, metavar="X,Y,R", help="disk in EPSG:2154 metres")
    whatif.add_argument(
        "--worst-disk", type=_positive_float, metavar="R", help="search the worst disk (metres)"
    )
    whatif.add_argument("--metric", choices=network.METRICS, default="sites")
    whatif.add_argument("--core", nargs="+", metavar="SITE", help="core sites (default: DCs)")
    _common(whatif)
    whatif.set_defaults(handler=_whatif)


def _ends(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="site code or name")
    parser.add_argument("target", help="site code or name")


def _constraints(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-free", type=_non_negative_int, help="minimum free fibres on every segment"
    )
    parser.add_argument("--avoid-segment", nargs="+", default=[], metavar="CODE")
    parser.add_argument("--avoid-site", nargs="+", default=[], metavar="SITE")
    parser.add_argument("--avoid-group", nargs="+", default=[], metavar="CODE")
    parser.add_argument(
        "--avoid-area", type=area_argument, metavar="FILE|WKT", help="polygon to stay out of"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--status",
        nargs="+",
        choices=[s.value for s in Status],
        help="statuses in the graph (default in_service)",
    )
    parser.add_argument("--all-statuses", action="store_true", help="every status")
    parser.add_argument("--as-of", type=datetime.fromisoformat, help="registry as of ISO time")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--out", type=Path, help="write results to FILE.geojson or FILE.csv")


def _graph(args: argparse.Namespace, settings: Settings) -> nx.MultiGraph:
    """The command's one registry read (a snapshot) and the one graph every analysis of
    the command uses (its compiled index is built with it and reused)."""
    statuses = None if args.all_statuses else tuple(args.status or network.DEFAULT_STATUSES)
    with registry.connect(settings.database, autocommit=True) as conn:
        snap = registry.snapshot(
            conn, as_of=args.as_of, statuses=statuses, references=False, detail=False
        )
    return network.require_sites(network.snapshot_graph(snap, statuses=statuses))


def _route_constraints(args: argparse.Namespace, graph: nx.MultiGraph) -> network.RouteConstraints:
    return network.RouteConstraints(
        min_free_fibres=args.min_free,
        avoid_segments=tuple(args.avoid_segment),
        avoid_sites=tuple(network.resolve_sites(graph, args.avoid_site)),
        avoid_risk_groups=tuple(args.avoid_group),
        avoid_area=args.avoid_area,
    )


def _route(args: argparse.Namespace, settings: Settings) -> int:
    graph = _graph(args, settings)
    weight: network.routing.Weight = args.weight
    if args.per_km is not None or args.per_joint is not None:
        weight = network.CostModel(per_km=args.per_km or 0.0, per_joint=args.per_joint or 0.0)
    constraints = _route_constraints(args, graph)
    if args.k == 1:
        routes = [
            network.shortest_path(
                graph, args.source, args.target, weight=weight, constraints=constraints
            )
        ]
    else:
        routes = network.k_shortest_paths(
            graph, args.source, args.target, args.k, weight=weight, constraints=constraints
        )
    if not routes:
        # k_shortest_paths answers "none" with an empty list: let the single query say why
        network.shortest_path(graph, args.source, args.target, constraints=constraints)
    budgets = [
        network.optical_budget(
            r, wavelength_nm=args.wavelength, budget_db=args.budget_db, settings=settings.network
        )
        for r in routes
    ]
    frame = network.routes_frame(routes)
    frame["loss_db"] = [round(b.total_loss_db, 2) for b in budgets]
    frame["passes"] = [b.passes for b in budgets]
    payload = {
        "provenance": routes[0].provenance.as_dict() if routes[0].provenance else None,
        "routes": [
            r.as_dict() | {"optical": b.as_dict(), "geometry": _geojson(r.geometry)}
            for r, b in zip(routes, budgets, strict=True)
        ],
    }
    payload["unknown_free_segments_left_out"] = _left_out(args, graph)
    columns = ["rank", "length_m", "joints", "min_free_fibres", "loss_db", "passes", "sites"]
    if args.budget_db is None:
        columns.remove("passes")  # no transceiver budget given: no verdict to print
    lines = [f"optical budget assumes: {'; '.join(budgets[0].assumptions[:2])}"]
    lines += _capacity_notes(args, graph, routes)
    return _emit(args, frame, payload, _title(routes[0].provenance, lines), columns)


def _left_out(args: argparse.Namespace, graph: nx.MultiGraph) -> list[str]:
    """Segments a ``--min-free`` constraint left out because their free fibres are unknown."""
    if not getattr(args, "min_free", None):
        return []
    return network.unknown_free_segments(graph)


def _capacity_notes(
    args: argparse.Namespace, graph: nx.MultiGraph, routes: list[network.Route]
) -> list[str]:
    """Say where free fibres are unknown, rather than let a number or a blank suggest one."""
    lines = []
    left_out = _left_out(args, graph)
    if left_out:
        lines.append(
            f"--min-free {args.min_free}: {len(left_out)} segment(s) of unknown free fibres "
            "(no fibre count or usage recorded) were not used: unknown is not enough"
        )
    for rank, route in enumerate(routes, start=1):
        if route.unknown_free_segments:
            lines.append(
                f"route {rank}: free fibres unknown on {len(route.unknown_free_segments)} "
                f"segment(s) ({' '.join(route.unknown_free_segments)}): its bottleneck is unknown"
            )
    return lines


def _diverse(args: argparse.Namespace, settings: Settings) -> int:
    graph = _graph(args, settings)
    pair = network.diverse_pair(
        graph,
        args.source,
        args.target,
        disjointness=args.level,
        constraints=_route_constraints(args, graph),
        settings=settings.network,
    )
    frame = network.pair_frame(pair)
    payload = pair.as_dict()
    for key, route in (("first", pair.first), ("second", pair.second)):
        if route is not None:
            payload[key]["geometry"] = _geojson(route.geometry)
    verdict = "disjoint" if pair.achieved else "NOT disjoint"
    lines = [
        f"{args.level}: {verdict}; total {pair.total_length_m / 1000:.1f} km; "
        f"{'proven minimal' if pair.exact else 'not proven minimal'} ({pair.method})"
    ]
    if not pair.achieved:
        lines.append(
            f"shared: segments {list(pair.shared_segments)}, sites {list(pair.shared_sites)}, "
            f"groups {list(pair.shared_risk_groups)}"
        )
    routes = [r for r in (pair.first, pair.second) if r is not None]
    lines += _capacity_notes(args, graph, routes)
    payload["unknown_free_segments_left_out"] = _left_out(args, graph)
    columns = ["role", "length_m", "joints", "min_free_fibres", "risk_groups", "sites"]
    return _emit(args, frame, payload, _title(pair.provenance, lines), columns)


def _redundancy(args: argparse.Namespace, settings: Settings) -> int:
    graph = _graph(args, settings)
    report = network.redundancy_report(
        graph, core=args.core, level=args.level, settings=settings.network
    )
    lines = [
        f"core: {', '.join(report.core)}; level: {report.level}",
        f"bridges: {len(report.bridges)}; articulation sites: {len(report.articulation_sites)}; "
        f"2-edge-connected components: {len(report.two_edge_components)}",
    ]
    already = _already_cut_off(graph, report)
    lines += [
        f"shared-risk group {c.group} splits the network ({', '.join(c.segments)}); "
        f"sites cut off the core: "
        + (
            ", ".join(c.sites_cut_off)
            or (_ALREADY_CUT_OFF if c.group in already else _NONE_CUT_OFF)
        )
        for c in report.srlg_cuts
    ]
    lines.append(f"single-homed sites: {len(report.single_homed)} (top {args.top} below)")
    payload = {
        "provenance": report.provenance.as_dict() if report.provenance else None,
        "core": list(report.core),
        "bridges": list(report.bridges),
        "articulation_sites": list(report.articulation_sites),
        "two_edge_components": [sorted(c) for c in report.two_edge_components if len(c) > 1],
        "srlg_cuts": [vars(c) for c in report.srlg_cuts],
        "single_homed": _records(report.single_homed),
    }
    columns = ["code", "name", "kind", "served", "edge_paths", "node_paths", "srlg_paths"]
    columns += ["new_build_to", "new_build_km"]
    header = _title(report.provenance, lines)
    table = report.single_homed.head(args.top)
    return _emit(args, report.sites, payload, header, columns, table=table)


def _whatif(args: argparse.Namespace, settings: Settings) -> int:
    graph = _graph(args, settings)
    if args.worst_disk is not None:
        worst = network.worst_disk_failure(
            graph, args.worst_disk, metric=args.metric, core=args.core, settings=settings.network
        )
        frame = gpd.GeoDataFrame(
            [worst.as_dict() | {"geometry": worst.centre.buffer(worst.radius_m)}],
            geometry="geometry",
            crs=STORAGE_CRS,
        )
        lines = [
            f"worst disk r={worst.radius_m:.0f} m at ({worst.centre.x:.0f}, {worst.centre.y:.0f}): "
            f"{worst.metric} {worst.value:g} (no disk does more than {worst.upper_bound:g}; "
            f"{'proven optimal' if worst.proven_optimal else 'not proven'}; "
            f"{worst.evaluations} evaluations)",
            f"sites lost: {', '.join(worst.sites_lost) or 'none'}",
        ]
        if worst.unknown_count_km_lost:
            lines.append(
                f"fibre-km lost: {worst.fibre_km_lost:,.0f} on known counts, plus "
                f"{worst.unknown_count_km_lost:,.1f} km of segments of unknown fibre count"
            )
        frame["sites_lost"] = ", ".join(worst.sites_lost)
        frame["segments_hit"] = ", ".join(worst.segments_hit)
        return _emit(args, frame, worst.as_dict(), _title(worst.provenance, lines), [])
    area = args.area
    if args.circle is not None:
        disk = network.circle(*args.circle)
        area = disk if area is None else area.union(disk)
    result = network.what_if(
        graph,
        segments=args.segment,
        risk_groups=args.group,
        sites=args.site,
        area=area,
        core=args.core,
        settings=settings.network,
    )
    broken = result.broken_routes
    isolated = result.core_isolated
    lines = [
        "core sites left without a path to the rest of the core: "
        + (", ".join(_named(isolated)) if isolated is not None and len(isolated) else "none"),
        f"cut: {len(result.cut_segments)} segment(s), {len(result.cut_sites)} site(s); "
        f"{result.fibre_km_lost:,.0f} fibre-km lost; free fibre-km "
        f"{result.free_fibre_km_before:,.0f} -> {result.free_fibre_km_after:,.0f}",
    ]
    if result.unknown_count_km_lost or result.unknown_free_km_before:
        lines.append(
            "fibre-km count known fibres only: unknown fibre count on "
            f"{result.unknown_count_km_lost:,.1f} km cut; unknown free fibres on "
            f"{result.unknown_free_km_before:,.1f} km before, "
            f"{result.unknown_free_km_after:,.1f} km after"
        )
    cut_off = ", ".join(result.sites_cut_off["code"]) or (
        _ALREADY_CUT_OFF
        if _cut_without_core(graph, result.cut_segments, args.core, settings)
        else "none"
    )
    lines += [
        f"sites cut off the core: {cut_off}",
        f"routes broken: {len(broken)} of {len(result.routes)}",
    ]
    payload = {
        "provenance": result.provenance.as_dict() if result.provenance else None,
        "core_isolated": [] if isolated is None else isolated["code"].tolist(),
        "unknown_count_km_lost": result.unknown_count_km_lost,
        "unknown_free_km_before": result.unknown_free_km_before,
        "unknown_free_km_after": result.unknown_free_km_after,
        "cut_segments": list(result.cut_segments),
        "cut_sites": list(result.cut_sites),
        "sites_cut_off": result.sites_cut_off["code"].tolist(),
        "fibre_km_lost": result.fibre_km_lost,
        "free_fibre_km_before": result.free_fibre_km_before,
        "free_fibre_km_after": result.free_fibre_km_after,
        "broken_routes": _records(broken),
    }
    columns = ["source", "target", "length_m", "reroute_target", "reroute_length_m", "stretch_pct"]
    columns += ["reroute_min_free_fibres"]
    return _emit(args, broken, payload, _title(result.provenance, lines), columns)


def _emit(
    args: argparse.Namespace,
    frame: gpd.GeoDataFrame,
    payload: dict[str, Any],
    header: list[str],
    columns: list[str],
    table: gpd.GeoDataFrame | None = None,
) -> int:
    """Print the header and a table (or JSON); write ``frame`` to ``--out``."""
    if args.out:
        _write(frame, args.out)
    parameters = _parameters(args)
    if args.json:
        # Geometries are Lambert-93 metres, not the WGS84 RFC 7946 readers assume: say so.
        payload = payload | {"crs": f"EPSG:{STORAGE_CRS}", "parameters": parameters}
        print(json.dumps(payload, ensure_ascii=False, indent=2, default=_plain))
        return 0
    shown_parameters = "; ".join(f"{k} {_plain(v)}" for k, v in parameters.items())
    print("\n".join([*header[:1], f"Parameters: {shown_parameters}", *header[1:]]))
    shown = frame if table is None else table
    present = [c for c in columns if c in shown]
    if len(shown) and present:
        printed = pd.DataFrame(shown[present]).copy()
        for column, by in _UNKNOWN_BECAUSE.items():
            if column in printed and by in shown:
                printed[column] = [
                    _free_label(v, segments)
                    for v, segments in zip(printed[column], shown[by], strict=True)
                ]
        for column in ("length_m", "reroute_length_m"):
            if column in printed:
                printed[column] = (printed[column] / 1000).round(2)
                printed = printed.rename(columns={column: column.replace("_m", "_km")})
        if "sites" in printed:
            printed["sites"] = printed["sites"].map(_abridged)
        print(_readable(printed).to_string(index=False))
    if args.out:
        print(f"written: {args.out} (coordinates in EPSG:{STORAGE_CRS}, Lambert-93 metres)")
    return 0


#: A capacity column, and the column naming the segments that make it unknown.
_UNKNOWN_BECAUSE = {
    "min_free_fibres": "unknown_free_segments",
    "reroute_min_free_fibres": "reroute_unknown_free",
}

#: How an empty cell reads, where it does not mean "unknown".
_EMPTY_MEANS = {
    "new_build_to": "none found",
    "new_build_km": "-",
    "reroute_target": "no reroute",
    "reroute_length_km": "-",
    "reroute_min_free_fibres": "-",
    "stretch_pct": "-",
}


def _free_label(value: Any, segments: Any) -> Any:
    if not _missing(value):
        return value
    codes = segments.split() if isinstance(segments, str) else list(segments or ())
    return network.unknown_label(codes) if codes else value


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    """Cells as people read them: 2 decimals, and "unknown" (never NaN, None or <NA>)."""
    return pd.DataFrame(
        {
            column: [
                _EMPTY_MEANS.get(column, "unknown") if _missing(v) else _cell(v)
                for v in table[column]
            ]
            for column in table.columns
        }
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and value != value


def _named(sites: gpd.GeoDataFrame) -> list[str]:
    return [
        f"{code} ({name})" if not _missing(name) else code
        for code, name in zip(sites["code"], sites["name"], strict=True)
    ]


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The options a result depends on, as given on the command line (defaults included)."""
    statuses = "all" if args.all_statuses else (args.status or list(network.DEFAULT_STATUSES))
    names = ("k", "weight", "per_km", "per_joint", "wavelength", "budget_db", "min_free")
    names += ("avoid_segment", "avoid_site", "avoid_group", "level", "core", "top", "metric")
    names += ("segment", "group", "site", "circle", "worst_disk")
    # No --as-of means the registry as it is now: say so rather than print None.
    chosen = {"statuses": statuses, "as_of": args.as_of.isoformat() if args.as_of else "now"}
    chosen |= {n: getattr(args, n) for n in names if getattr(args, n, None) not in (None, [])}
    for name in ("area", "avoid_area"):
        if getattr(args, name, None) is not None:
            chosen[f"{name}_km2"] = round(getattr(args, name).area / 1e6, 3)
    return chosen


def _abridged(sites: str, width: int = 70) -> str:
    if len(sites) <= width:
        return sites
    names = sites.split(" > ")
    return f"{names[0]} > … ({len(names) - 2} sites) … > {names[-1]}"


def _write(frame: gpd.GeoDataFrame, path: Path) -> None:
    frame = frame.copy()
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].map(type).isin([tuple, list]).any():
            frame[column] = frame[column].map(lambda v: " ".join(map(str, v)))
    suffix = path.suffix.lower()
    if not path.parent.is_dir():
        raise NotFound(f"--out {path}: folder {path.parent} does not exist")
    if suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table["wkt"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=2)
        safe_table(table).to_csv(path, index=False)
    elif suffix in (".geojson", ".json"):
        frame.to_file(path, driver="GeoJSON")
    else:
        raise SystemExit(f"recor: --out {path}: expected a .geojson or .csv file")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected 1 or more")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: expected 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g}: expected more than 0")
    return value


def _title(provenance: network.Provenance | None, lines: list[str] | None = None) -> list[str]:
    head = [f"Data: {provenance.label()}"] if provenance else []
    return head + (lines or [])


def _records(frame: gpd.GeoDataFrame) -> list[dict]:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return json.loads(table.to_json(orient="records", default_handler=str))


def _geojson(geometry: BaseGeometry | None) -> dict | None:
    return mapping(geometry) if geometry is not None else None


def _plain(value: Any) -> Any:
    if isinstance(value, BaseGeometry):
        return mapping(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
