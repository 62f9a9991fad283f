"""What the engineers' scripts of ``routing/`` share: registry options and the graph.

Every script reads the registry like the ``recor`` command (``--database-url``, else
``RECOR_DATABASE_URL`` / libpq's environment), keeps the statuses asked (in service by
default) and can look at the registry as it was (``--as-of``).
"""

from __future__ import annotations

import argparse
from datetime import datetime

import networkx as nx

from recor.domain import Status
from recor.network.graph import DEFAULT_STATUSES
from recor.network.load import registry_graph

__all__ = ["add_registry_options", "graph_of"]


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--database-url``, ``--status``, ``--all-statuses`` and ``--as-of``."""
    parser.add_argument(
        "--database-url", help="libpq URI (default: RECOR_DATABASE_URL, libpq environment)"
    )
    parser.add_argument(
        "--status",
        nargs="+",
        choices=[s.value for s in Status],
        help="statuses kept in the graph (default: in_service)",
    )
    parser.add_argument("--all-statuses", action="store_true", help="keep every status")
    parser.add_argument(
        "--as-of", type=_iso_time, metavar="ISO_TIME", help="the registry as it was then"
    )


def graph_of(args: argparse.Namespace) -> nx.MultiGraph:
    """The registry's graph for parsed registry options (:func:`add_registry_options`)."""
    statuses = None if args.all_statuses else (args.status or DEFAULT_STATUSES)
    return registry_graph(args.database_url, statuses=statuses, as_of=args.as_of)


def _iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected an ISO time, e.g. 2026-01-01 or 2026-01-01T12:00+00:00"
        ) from None
