"""Argument types and options shared by several sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from recor.config import STORAGE_CRS

if TYPE_CHECKING:  # every command imports this module; only an area argument needs these
    from shapely.geometry.base import BaseGeometry

__all__ = ["add_global_options", "area_argument", "circle"]


def circle(spec: str) -> tuple[float, float, float]:
    """``X,Y,R`` in EPSG:2154 metres with R > 0 (argparse type)."""
    try:
        x, y, r = (float(v) for v in spec.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{spec!r}: expected X,Y,R in EPSG:2154 metres, e.g. 525000,6701000,5000"
        ) from None
    if not r > 0:
        raise argparse.ArgumentTypeError(f"{spec!r}: the radius R must be more than 0 m")
    return x, y, r


def add_global_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v`` and ``--database-url`` on ``parser`` and, below it, on every sub-command.

    The top-level parser holds the defaults; sub-commands use ``SUPPRESS`` so that they set
    the option only when it is given there: given both before and after the sub-command,
    the later one wins (argparse copies the sub-command's values over the top-level ones).
    """
    default_verbose = False if top else argparse.SUPPRESS
    default_url = None if top else argparse.SUPPRESS
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default_verbose, help="log progress details"
    )
    parser.add_argument(
        "--database-url",
        default=default_url,
        help="libpq URI (default: RECOR_DATABASE_URL, libpq env)",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                add_global_options(sub)


def area_argument(spec: str) -> BaseGeometry:
    """A polygon from a file (reprojected to EPSG:2154) or EPSG:2154 WKT (argparse type)."""
    import geopandas as gpd
    import shapely

    path = Path(spec)
    if path.exists():
        shapes = gpd.read_file(path)
        if shapes.crs is not None:
            shapes = shapes.to_crs(STORAGE_CRS)
        area = shapes.geometry.union_all()
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
