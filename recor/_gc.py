"""Pause Python's cyclic garbage collector while bulk data is built.

Reading a 200,000-segment snapshot or building its graph creates millions of objects
that hold no reference cycles; each allocation burst triggers full collections that scan
them all again (a third of a cold ``recor route``'s CPU time). Reference counting still
frees everything as usual; only the cycle search waits until the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector inside the block (restored after, even on error)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
