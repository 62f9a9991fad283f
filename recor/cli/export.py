"""``recor export FORMAT OUT``: hand the registry over as QGIS, GeoPackage, OFDS or field files.

Every format is one entry of :data:`FORMATS`: a help line, the levels it allows and a
``write(request) -> list[Path]`` function. The request carries the parsed common options
(``OUT``, ``--as-of``, ``--area``, ``--public|--internal``), the connection and, read once on
first use in one repeatable-read transaction, the registry snapshot.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import psycopg
from shapely.geometry.base import BaseGeometry

from recor import network, registry
from recor.cli._args import area_argument, circle
from recor.config import Settings
from recor.errors import ConfigurationError
from recor.export import field as field_export
from recor.export import gpkg, ofds, qgis
from recor.export.gracethd import gracethd_export, write_gracethd
from recor.export.snapshot import Snapshot, read_snapshot
from recor.registry.gracethd_store import read_gracethd_tables

__all__ = ["FORMATS", "ExportFormat", "ExportRequest", "parse_as_of", "register"]


@dataclass
class ExportRequest:
    """What one ``recor export`` run asks for, and the registry it reads."""

    conn: psycopg.Connection
    args: argparse.Namespace
    settings: Settings
    out: Path
    level: str
    as_of: datetime | None
    area: BaseGeometry | None
    _snapshot: Snapshot | None = field(default=None, repr=False)

    def snapshot(self, *, whole: bool = False) -> Snapshot:
        """The registry at ``as_of``, limited to ``area`` unless ``whole`` (read once)."""
        if self._snapshot is None:
            self._snapshot = read_snapshot(self.conn, as_of=self.as_of)
        return self._snapshot if whole else self._snapshot.within(self.area)


@dataclass(frozen=True)
class ExportFormat:
    """One export format: how to write it and which levels it allows (first = default)."""

    help: str
    write: Callable[[ExportRequest], list[Path]]
    #: suffixes ``OUT`` may have (checked before reading anything); empty: ``OUT`` is a folder
    suffixes: tuple[str, ...] = ()
    levels: tuple[str, ...] = ("internal",)
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


def _qgis(request: ExportRequest) -> list[Path]:
    plan = qgis.plan_project(
        request.conn, settings=request.settings.maps, as_of=request.as_of, area=request.area
    )
    return [qgis.write_qgz(plan, request.out)]


def _gpkg(request: ExportRequest) -> list[Path]:
    return [gpkg.write_gpkg(request.snapshot(), request.out)]


def _ofds(request: ExportRequest) -> list[Path]:
    publication = ofds.ofds_network(
        request.snapshot(),
        level=request.level,  # type: ignore[arg-type]
        coarsen_m=request.settings.maps.public_coarsen_m,
    )
    return list(ofds.write_ofds(publication, request.out).values())


def _field_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", help="route: first site (code or name)")
    parser.add_argument("--to", dest="target", help="route: second site (code or name)")
    parser.add_argument("--segment", nargs="+", default=[], metavar="CODE", help="what-if: cut")
    parser.add_argument("--site", nargs="+", default=[], metavar="SITE", help="what-if: destroy")
    parser.add_argument("--group", nargs="+", default=[], metavar="CODE", help="what-if: group")
    parser.add_argument(
        "--circle", type=circle, metavar="X,Y,R", help="what-if: disk (EPSG:2154 metres)"
    )


def _field(request: ExportRequest) -> list[Path]:
    args = request.args
    if bool(args.source) != bool(args.target):
        raise ConfigurationError("export field: a route needs both --from and --to")
    cuts = args.segment or args.site or args.group or args.circle is not None
    if args.source:
        whole = request.snapshot(whole=True)
        graph = network.build_graph(whole.sites, whole.segments, version=whole.version)
        route = network.shortest_path(graph, args.source, args.target)
        features = field_export.route_features(route, whole.sites, whole.segments)
    elif cuts:
        whole = request.snapshot(whole=True)
        graph = network.build_graph(whole.sites, whole.segments, version=whole.version)
        failure = request.area
        if args.circle is not None:
            disk = network.circle(*args.circle)
            failure = disk if failure is None else failure.union(disk)
        result = network.what_if(
            graph, segments=args.segment, risk_groups=args.group, sites=args.site, area=failure
        )
        features = field_export.whatif_features(result, whole.sites, whole.segments, failure)
    elif request.area is not None:
        snapshot = request.snapshot()
        features = field_export.area_features(snapshot.sites, snapshot.segments, request.area)
    else:
        raise ConfigurationError(
            "export field: say what to export: --from A --to B (a route),"
            " --segment/--site/--group/--circle (a what-if) or --area (an area)"
        )
    return [field_export.write_field(features, request.out)]


def _gracethd(request: ExportRequest) -> list[Path]:
    # Tables kept from GraceTHD deliveries, brought up to date with the registry's own rows;
    # the area is closed over references inside gracethd_frames, so the whole snapshot goes in.
    kept = read_gracethd_tables(request.conn, as_of=request.as_of)
    whole = request.snapshot(whole=True)
    export = gracethd_export(kept, whole.sites, whole.segments, area=request.area)
    for line in export.gaps.lines():
        print(f"lacune : {line}")
    return write_gracethd(export.tables, request.out, export.gaps)


#: Export formats: name → how to write it. A new format is one entry here.
FORMATS: dict[str, ExportFormat] = {
    "qgis": ExportFormat(
        "QGIS project (.qgz) over the live registry", _qgis, suffixes=(".qgz", ".qgs")
    ),
    "gpkg": ExportFormat(
        "GeoPackage snapshot that recor import takes back unchanged", _gpkg, suffixes=(".gpkg",)
    ),
    "ofds": ExportFormat(
        "Open Fibre Data Standard publication (folder: JSON package + GeoJSON)",
        _ofds,
        levels=("public", "internal"),
    ),
    "field": ExportFormat(
        "KML or GeoJSON (WGS84) of a route, a what-if or an area, for field teams",
        _field,
        suffixes=(".kml", ".geojson", ".json"),
        add_arguments=_field_arguments,
    ),
    "gracethd": ExportFormat(
        "GraceTHD v2.0.1 exchange set (folder: shapefiles, ; CSV, lists)", _gracethd
    ),
}


def parse_as_of(text: str) -> datetime:
    """``YYYY-MM-DD`` (the end of that day, UTC) or an ISO time (UTC when naive)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a date YYYY-MM-DD or an ISO time such as 2026-11-28T14:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export`` and one sub-command per format."""
    parser = subparsers.add_parser("export", help="export the registry (QGIS, GeoPackage, OFDS…)")
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, spec in FORMATS.items():
        sub = formats.add_parser(name, help=spec.help)
        sub.add_argument("out", type=Path, metavar="OUT", help="file or folder to write")
        sub.add_argument("--as-of", type=parse_as_of, metavar="DATE", help="registry at a date")
        sub.add_argument(
            "--area", type=area_argument, metavar="FILE|WKT", help="polygon (EPSG:2154 or a file)"
        )
        level = sub.add_mutually_exclusive_group()
        for choice in ("public", "internal"):
            level.add_argument(f"--{choice}", dest="level", action="store_const", const=choice)
        sub.set_defaults(handler=_export, level=None)
        if spec.add_arguments:
            spec.add_arguments(sub)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    spec = FORMATS[args.format]
    level = args.level or spec.levels[0]
    if level not in spec.levels:
        raise ConfigurationError(
            f"export {args.format}: --{level} is not available; this export is"
            f" {' or '.join(spec.levels)} only (--public applies to ofds: CHATON nodes"
            " coarsened, chambers and internal attributes left out)"
        )
    if spec.suffixes and args.out.suffix.lower() not in spec.suffixes:
        raise ConfigurationError(
            f"export {args.format}: OUT {args.out} should end in {' or '.join(spec.suffixes)}"
        )
    with registry.connect(settings.database) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        request = ExportRequest(conn, args, settings, args.out, level, args.as_of, args.area)
        paths = spec.write(request)
        version = registry.registry_version(conn, args.as_of).label()
        conn.rollback()
    print(f"recor export {args.format} ({level}, data {version}):")
    for path in paths:
        print(path)
    return 0
