"""``recor export gracethd OUT [--as-of] [--area]``: write the registry as a GraceTHD v2.0.1 set.

Registered by :func:`register_export` on the ``export`` command's sub-parsers (or, alone,
by :func:`register` as ``recor export-gracethd``).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from recor import registry
from recor.config import STORAGE_CRS, Settings
from recor.export.gracethd import gracethd_frames, write_gracethd
from recor.registry.gracethd_store import read_gracethd_tables

__all__ = ["add_arguments", "register", "register_export", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the GraceTHD export."""
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to write (created)")
    parser.add_argument("--as-of", type=datetime.fromisoformat, help="registry as of ISO time")
    parser.add_argument(
        "--area", type=_area, metavar="FILE|WKT",
        help="polygon (EPSG:2154 WKT or a file): export what it intersects",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def register_export(export_subparsers: argparse._SubParsersAction) -> None:
    """Add ``gracethd`` to the sub-commands of ``recor export``."""
    add_arguments(
        export_subparsers.add_parser(
            "gracethd", help="GraceTHD v2.0.1 exchange set (shapefiles, CSV, lists)"
        )
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export-gracethd`` (until ``recor export`` carries it as a sub-command)."""
    add_arguments(
        subparsers.add_parser(
            "export-gracethd", help="write the registry as a GraceTHD v2.0.1 exchange set"
        )
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Read the registry (as of ``--as-of``), write the exchange set, print what was written."""
    with registry.connect(settings.database, autocommit=True) as conn:
        kept = read_gracethd_tables(conn, as_of=args.as_of)
        sites = registry.read_sites(conn, as_of=args.as_of)
        segments = registry.read_segments(conn, as_of=args.as_of)
        version = registry.registry_version(conn).label()
    tables = gracethd_frames(kept, sites, segments, area=args.area)
    files = write_gracethd(tables, args.out)
    rows = {name: len(frame) for name, frame in tables.items() if len(frame)}
    print(f"GraceTHD v2.0.1 écrit dans {args.out} ({len(files)} fichiers), registre : {version}")
    for name, count in sorted(rows.items()):
        print(f"  {name:<16} {count:>8}")
    return 0


def _area(spec: str) -> BaseGeometry:
    path = Path(spec)
    if path.exists():
        shapes = gpd.read_file(path)
        area = (shapes.to_crs(STORAGE_CRS) if shapes.crs else shapes).geometry.union_all()
    else:
        try:
            area = shapely.from_wkt(spec)
        except shapely.errors.GEOSException as exc:
            raise argparse.ArgumentTypeError(
                f"{spec!r} is neither a file nor polygon WKT in EPSG:2154 ({exc})"
            ) from None
    if area is None or area.is_empty or area.area <= 0:
        raise argparse.ArgumentTypeError(f"{spec!r} is not a polygon with an area")
    return area
