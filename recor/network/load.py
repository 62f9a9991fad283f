"""The thin loader: the registry read once per registry state, the graph reused after."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime

import networkx as nx
import psycopg

from recor import registry
from recor.config import DatabaseSettings
from recor.errors import NotFound
from recor.network.graph import DEFAULT_STATUSES, build_graph

__all__ = ["GraphCache", "load_graph", "registry_graph", "require_sites", "snapshot_graph"]

log = logging.getLogger(__name__)


class GraphCache:
    """Graphs keyed on (registry version, statuses, as-of).

    Each call asks the registry for its version (one cheap query); the graph is rebuilt
    only when the registry changed since, so queries never pay for a rebuild.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._graphs: dict[tuple, nx.MultiGraph] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def get(
        self,
        conn: psycopg.Connection,
        *,
        statuses: Iterable[str] | None = DEFAULT_STATUSES,
        as_of: datetime | None = None,
    ) -> nx.MultiGraph:
        """The graph of the registry's current state (built on first use)."""
        version = registry.registry_version(conn, as_of)
        keep = None if statuses is None else tuple(sorted(str(s) for s in statuses))
        key = (version.batch_id, version.loaded_at, keep, as_of)
        with self._lock:
            graph = self._graphs.get(key)
        if graph is not None:
            return graph
        snap = registry.snapshot(conn, as_of=as_of, statuses=keep, references=False, detail=False)
        graph = snapshot_graph(snap, statuses=keep)
        with self._lock:
            self.builds += 1
            self._graphs[key] = graph
            while len(self._graphs) > self.size:
                self._graphs.pop(next(iter(self._graphs)))
        log.info("graph cached for %s", version.label())
        return graph

    def clear(self) -> None:
        """Forget every graph."""
        with self._lock:
            self._graphs.clear()


#: The process-wide cache used when none is given (a cache is state by nature).
_SHARED = GraphCache()


def load_graph(
    conn: psycopg.Connection,
    *,
    statuses: Iterable[str] | None = DEFAULT_STATUSES,
    as_of: datetime | None = None,
    cache: GraphCache | None = None,
) -> nx.MultiGraph:
    """The network graph of the registry (in-service by default, or as of a past time).

    Parameters
    ----------
    conn
        Registry connection (:func:`recor.registry.connect`).
    statuses
        Statuses kept; None keeps all.
    as_of
        Read the registry as it was at this time.
    cache
        Where to keep built graphs; default: one shared per process.

    Returns
    -------
    networkx.MultiGraph
        Treat it as read-only: it is shared with later calls.
    """
    return (cache or _SHARED).get(conn, statuses=statuses, as_of=as_of)


def snapshot_graph(
    snap: registry.RegistrySnapshot, *, statuses: Iterable[str] | None = DEFAULT_STATUSES
) -> nx.MultiGraph:
    """The network graph of a registry snapshot (in-service by default): no further read.

    The same graph as :func:`load_graph` on the registry the snapshot was read from.
    """
    keep = None if statuses is None else tuple(sorted(str(s) for s in statuses))
    graph = build_graph(snap.sites, snap.segments, statuses=keep, version=snap.version)
    graph.graph["as_of"] = snap.version.as_of
    return graph


def registry_graph(
    database: DatabaseSettings | str | None = None,
    *,
    statuses: Iterable[str] | None = DEFAULT_STATUSES,
    as_of: datetime | None = None,
    cache: GraphCache | None = None,
) -> nx.MultiGraph:
    """Connect, load the graph, and refuse an empty view of the registry by name.

    Parameters
    ----------
    database
        Settings, a libpq URI, or None for ``RECOR_DATABASE_URL`` / libpq's environment.
    statuses, as_of, cache
        As :func:`load_graph`.

    Raises
    ------
    NotFound
        When the registry holds no site of these statuses (at ``as_of``): otherwise every
        site reference would fail with a misleading "no site ... (0 sites)".
    RegistryError
        When the registry cannot be reached.
    """
    with registry.connect(database, autocommit=True) as conn:
        graph = load_graph(conn, statuses=statuses, as_of=as_of, cache=cache)
    return require_sites(graph)


def require_sites(graph: nx.MultiGraph) -> nx.MultiGraph:
    """The graph, or a refusal naming the empty view of the registry it was built from.

    Raises
    ------
    NotFound
        When the graph has no site: otherwise every site reference would fail with a
        misleading "no site ... (0 sites)".
    """
    if len(graph) == 0:
        as_of = graph.graph.get("as_of")
        statuses = graph.graph.get("statuses")
        when = f" as of {as_of.isoformat()}" if as_of else ""
        wanted = "any status" if statuses is None else ", ".join(statuses)
        raise NotFound(f"the registry has no site ({wanted}){when}: nothing to analyse")
    return graph
