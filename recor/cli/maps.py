"""``recor reference import``, ``recor coverage``, ``recor map KIND``."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import psycopg

from recor import registry
from recor.cli._args import circle
from recor.cli.export import parse_as_of
from recor.config import Settings
from recor.errors import ConfigurationError, ImportRefused, NotFound
from recor.maps import build
from recor.maps.boundaries import file_sha256, read_boundaries, read_cog_csv
from recor.maps.document import ONLINE_TILES
from recor.maps.printing import print_map
from recor.registry.reference import (
    REFERENCE_KINDS,
    list_reference_layers,
    write_cog,
    write_reference,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reference``, ``coverage`` and ``map``."""
    reference = subparsers.add_parser("reference", help="administrative boundary layers")
    actions = reference.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = actions.add_parser("import", help="import a boundaries file (replaces that layer)")
    load.add_argument("file", type=Path, help="GeoJSON, Shapefile (Admin Express), GeoPackage")
    load.add_argument(
        "--kind",
        required=True,
        help=f"layer: {', '.join(REFERENCE_KINDS)}, or cog (official code list CSV:"
        " populations, EPCI, merged communes)",
    )
    load.add_argument("--layer", help="layer inside a multi-layer file")
    load.set_defaults(handler=_import)
    listing = actions.add_parser("list", help="reference layers in the registry")
    listing.set_defaults(handler=_list)

    cov = subparsers.add_parser("coverage", help="coverage per commune (or 2 km grid cell)")
    cov.add_argument("--out", type=Path, help="folder of the CSV files (default maps/out)")
    cov.add_argument("--map", action="store_true", help="also write coverage.html")
    _as_of_argument(cov)
    _resilience_arguments(cov)
    cov.set_defaults(handler=_coverage)

    maps = subparsers.add_parser("map", help="write a self-contained HTML map")
    maps.add_argument("kind", choices=(*build.MAP_KINDS, "all"))
    maps.add_argument("--out", type=Path, help="file (or folder for 'all'); default maps/out/")
    level = maps.add_mutually_exclusive_group()
    level.add_argument(
        "--public",
        dest="level",
        action="store_const",
        const="public",
        help="publishable: CHATON nodes coarsened, no duct/chamber detail",
    )
    level.add_argument(
        "--internal",
        dest="level",
        action="store_const",
        const="internal",
        help="everything (default)",
    )
    maps.set_defaults(level="internal")
    maps.add_argument(
        "--online-tiles",
        nargs="?",
        const="osm",
        choices=tuple(ONLINE_TILES),
        help="add an online background (osm or ign); off by default",
    )
    maps.add_argument("--from", dest="source", help="route: first site (code or name)")
    maps.add_argument("--to", dest="target", help="route: second site (code or name)")
    maps.add_argument(
        "--level",
        dest="disjointness",
        default=build.DEFAULT_LEVEL,
        choices=("edge", "node", "srlg"),
        help="route: disjointness asked for; redundancy, coverage, all: what single-homed"
        " means (as recor redundancy --level)",
    )
    maps.add_argument(
        "--core", nargs="+", metavar="SITE", help="core sites, code or name (default: DCs)"
    )
    maps.add_argument("--segment", nargs="+", default=[], metavar="CODE", help="whatif: cut")
    maps.add_argument("--site", nargs="+", default=[], metavar="SITE", help="whatif: destroy")
    maps.add_argument("--group", nargs="+", default=[], metavar="CODE", help="whatif: group")
    maps.add_argument(
        "--circle", type=circle, metavar="X,Y,R", help="whatif: disk (EPSG:2154 metres)"
    )
    _as_of_argument(maps)
    when = maps.add_mutually_exclusive_group()
    when.add_argument(
        "--compare",
        type=parse_as_of,
        metavar="DATE",
        help="network, coverage, redundancy: what changed since DATE (until --as-of or now)",
    )
    when.add_argument(
        "--with-planned",
        action="store_true",
        help="network, coverage, redundancy: the network once the planned and under-construction"
        " work is in service, and the sites that gain a second path",
    )
    maps.add_argument("--pdf", type=Path, help="also print the map to this PDF (A4 landscape)")
    maps.add_argument("--png", type=Path, help="also save an image of the map (A4 landscape)")
    maps.set_defaults(handler=_map)


def _as_of_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="DATE",
        help="the registry as it was at DATE (YYYY-MM-DD: end of that day, UTC; or ISO time)",
    )


def _resilience_arguments(parser: argparse.ArgumentParser) -> None:
    """``--core`` and ``--level``: the shared resilience definition (as ``recor redundancy``)."""
    parser.add_argument(
        "--core", nargs="+", metavar="SITE", help="core sites, code or name (default: DCs)"
    )
    parser.add_argument(
        "--level",
        dest="disjointness",
        choices=("edge", "node", "srlg"),
        default=build.DEFAULT_LEVEL,
        help="what single-homed means (as recor redundancy --level)",
    )


def _map_path(out: Path | None, kind: str, settings: Settings) -> Path:
    """``--out`` of one map: an ``.html`` file, or a folder that gets ``KIND.html``."""
    if out is None or out.is_dir() or not out.suffix:
        return (out or Path(settings.maps.out_dir)) / f"{kind}.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigurationError(f"--out {out}: a map is an HTML page; expected a .html file")
    return out


def _snapshot_at(
    conn: psycopg.Connection, when: datetime | None, option: str, *, references: bool = True
) -> registry.RegistrySnapshot:
    """The registry at ``when`` (now when None); a date before the first import is refused.

    ``references=False`` skips the boundaries: a comparison draws the current ones once.
    """
    snap = registry.snapshot(conn, as_of=when, references=references)
    if when is not None and snap.version.batch_id is None:
        raise NotFound(
            f"{option} {when.isoformat()}: the registry held nothing yet at that time"
            " (before its first import; see recor import list)"
        )
    return snap


def _import(args: argparse.Namespace, settings: Settings) -> int:
    if not args.file.exists():
        raise NotFound(f"reference file {args.file} does not exist")
    if not args.file.is_file():
        print(f"recor: refused: {args.file} is not a regular file", file=sys.stderr)
        return 1
    try:
        if args.kind == "cog":
            cog = read_cog_csv(args.file)
            with registry.connect(settings.database) as conn:
                done = write_cog(
                    conn, cog, source_file=str(args.file), sha256=file_sha256(args.file)
                )
                conn.commit()
            print(f"official geographic code: {done.features} communes imported (import {done.id})")
            return 0
        areas = read_boundaries(args.file, args.kind, layer=args.layer)
    except ImportRefused as exc:
        print(f"recor: refused, nothing was written: {exc}", file=sys.stderr)
        return 1
    with registry.connect(settings.database) as conn:
        done = write_reference(
            conn,
            areas,
            kind=args.kind,
            source_file=str(args.file),
            sha256=file_sha256(args.file),
            source_crs="EPSG:2154 (reprojected)",
        )
        conn.commit()
    print(f"reference layer {done.kind}: {done.features} areas imported (import {done.id})")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with registry.connect(settings.database) as conn:
        layers = list_reference_layers(conn)
    if not layers:
        print("no reference layer; the coverage analysis will use a grid")
    for layer in layers:
        print(
            f"{layer.kind:16} {layer.features:6d} areas"
            f"  {layer.imported_at:%Y-%m-%d %H:%M}  {layer.source_file}"
        )
    return 0


def _coverage(args: argparse.Namespace, settings: Settings) -> int:
    with registry.connect(settings.database) as conn:
        snap = _snapshot_at(conn, args.as_of, "--as-of")
    boundaries = build.reference_layers(snap)
    result = build.build_coverage(
        snap, settings, core=args.core, level=args.disjointness, boundaries=boundaries
    )
    out = args.out or Path(settings.maps.out_dir)
    paths = result.write_csv(out)
    print(
        f"coverage per {'commune' if result.unit_kind == 'communes' else 'grid cell'};"
        f" data {result.version}"
    )
    columns = [
        "name",
        "units",
        "km_in_service",
        *[f"units_within_{b:g}km" for b in result.bands_km],
        "sites_connected",
        "single_homed_sites",
    ]
    print(result.summary[columns].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    for path in paths.values():
        print(path)
    if args.map:
        doc = build.build_coverage_map(snap, settings, result=result, boundaries=boundaries)
        print(doc.write(out / "coverage.html"))
    return 0


def _map(args: argparse.Namespace, settings: Settings) -> int:
    if args.kind == "all" and (args.pdf or args.png):
        raise ConfigurationError("--pdf/--png print one map: name its kind, not all")
    if (args.compare or args.with_planned) and args.kind not in build.COMPARABLE_KINDS:
        option = "--compare" if args.compare else "--with-planned"
        raise ConfigurationError(
            f"map {args.kind}: {option} applies to the {', '.join(build.COMPARABLE_KINDS)}"
            " maps (one at a time)"
        )
    if args.compare and args.as_of and args.compare >= args.as_of:
        raise ConfigurationError(
            f"--compare {args.compare.isoformat()} must be before --as-of {args.as_of.isoformat()}"
        )
    path = None if args.kind == "all" else _map_path(args.out, args.kind, settings)
    with registry.connect(settings.database) as conn:
        snap = _snapshot_at(conn, args.as_of, "--as-of")
        before = (
            _snapshot_at(conn, args.compare, "--compare", references=False)
            if args.compare
            else None
        )
    if args.kind == "all":
        paths = build.standard_maps(
            snap,
            settings,
            args.out or Path(settings.maps.out_dir),
            level=args.level,
            core=args.core,
            resilience_level=args.disjointness,
        )
        for path in paths.values():
            print(path)
        return 0
    doc = _build(snap, args, settings, before)
    print(doc.write(path))
    if args.pdf or args.png:
        for printed in print_map(path, pdf=args.pdf, png=args.png):
            print(printed)
    return 0


def _build(
    snap: registry.RegistrySnapshot,
    args: argparse.Namespace,
    settings: Settings,
    before: registry.RegistrySnapshot | None = None,
):
    tiles = args.online_tiles
    if before is not None or args.with_planned:
        if args.level == "public":
            raise ConfigurationError(
                "--compare/--with-planned maps list codes and locate every change: internal only"
            )
        options = {"kind": args.kind, "core": args.core, "level": args.disjointness, "tiles": tiles}
        if before is not None:
            return build.build_comparison_map(before, snap, settings, **options)
        return build.build_planned_map(snap, settings, **options)
    if args.kind == "network":
        return build.build_network_map(snap, settings, level=args.level, tiles=tiles)
    if args.kind == "coverage":
        result = build.build_coverage(snap, settings, core=args.core, level=args.disjointness)
        return build.build_coverage_map(
            snap, settings, level=args.level, tiles=tiles, result=result
        )
    if args.level == "public":
        raise ConfigurationError(
            f"map {args.kind}: analysis maps locate CHATON nodes and chambers and are"
            " internal only; --public applies to the network and coverage maps"
        )
    if args.kind == "redundancy":
        return build.build_redundancy_map(
            snap, settings, tiles=tiles, core=args.core, level=args.disjointness
        )
    if args.kind == "route":
        if not (args.source and args.target):
            raise SystemExit("recor map route: --from SITE --to SITE are required")
        return build.build_route_map(
            snap, settings, args.source, args.target, disjointness=args.disjointness, tiles=tiles
        )
    return build.build_whatif_map(
        snap,
        settings,
        segments=args.segment,
        sites=args.site,
        risk_groups=args.group,
        circle=args.circle,
        tiles=tiles,
        core=args.core,
    )
