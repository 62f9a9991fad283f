"""Argument types shared by several sub-commands."""

from __future__ import annotations

import argparse

__all__ = ["circle"]


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
