"""Independent paths from each site to *distinct* core sites (the SCORAN resilience question).

:func:`recor.network.redundancy_report` merges the core into one node, so two paths ending at
the same datacentre count as two. The review asks how many independent paths link a place
to at least two datacentres or CHATON nodes: here each core site is joined to one extra
anchor node by a zero-length link, and node-disjoint paths are counted to that anchor, so
every path ends at a different core site (and a core site cannot be shared by two paths).
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import pandas as pd
import shapely

from recor.config import NetworkSettings
from recor.network import redundancy_report

__all__ = ["ANCHOR", "paths_to_distinct_core"]

#: Name of the extra node every core site is linked to (never a real site code).
ANCHOR = "\u0000recor-core-anchor"


def paths_to_distinct_core(
    graph: nx.MultiGraph, core: Iterable[str], settings: NetworkSettings | None = None
) -> pd.Series:
    """Per site code, node-disjoint paths to distinct core sites (0, 1 or 2 = "2 or more").

    A core site itself counts its own presence as one path, plus its independent paths to
    other core sites. The input graph is not modified.
    """
    core = [c for c in core if c in graph]
    if not core:
        return pd.Series(0, index=pd.Index(list(graph.nodes), name="code"), name="paths")
    linked = graph.copy()
    first = graph.nodes[core[0]]
    linked.add_node(
        ANCHOR,
        name="",
        kind="other",
        status="in_service",
        x=first["x"],
        y=first["y"],
        geometry=first["geometry"],
    )
    for code in core:
        node = graph.nodes[code]
        linked.add_edge(
            code,
            ANCHOR,
            key=f"{ANCHOR}:{code}",
            length_m=0.0,
            fibre_count=None,
            fibres_used=None,
            free_fibres=None,
            risk_groups=(),
            status="in_service",
            installation=None,
            site_a=code,
            geometry=shapely.LineString([(node["x"], node["y"]), (node["x"], node["y"])]),
        )
    report = redundancy_report(linked, core=[ANCHOR], level="node", settings=settings)
    paths = report.sites.set_index("code")["node_paths"]
    return paths.drop(ANCHOR, errors="ignore").clip(upper=2).rename("paths")
