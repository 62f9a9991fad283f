"""New-build advice, re-checked: every suggested link is added and connectivity recomputed.

The check is independent of the dominator machinery: a copy of the graph gets the proposed
segment, then every single failure of the level asked (a segment; a site or a segment; a
site, a segment or a shared-risk group) is removed in turn (networkx, brute force) and the
site must still reach the core.
"""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx
import numpy as np
import pytest

from recor.network import LEVELS, graph_from_delivery, redundancy_report
from recor.sample import build_sample
from tests.network.topology import random_graph

NEW = "NEW-BUILD"


def _failures(graph: nx.MultiGraph, level: str, site: str, core: set[str]) -> Iterator[tuple]:
    """Each single failure of the level: (dead segment keys, dead sites)."""
    for *_, key in graph.edges(keys=True):
        yield {key}, set()
    if level == "edge":
        return
    for node in graph:
        if node != site and node not in core:
            yield set(), {node}
    if level == "srlg":
        groups: dict[str, set] = {}
        for *_, key, members in graph.edges(keys=True, data="risk_groups"):
            for group in members or ():
                groups.setdefault(group, set()).add(key)
        for keys in groups.values():
            yield keys, set()


def _reaches_core(
    graph: nx.MultiGraph, site: str, core: set[str], dead_edges=frozenset(), dead_sites=frozenset()
) -> bool:
    """Plain breadth-first search that skips the dead elements."""
    seen, todo = {site}, [site]
    while todo:
        node = todo.pop()
        if node in core:
            return True
        for _, other, key in graph.edges(node, keys=True):
            if key not in dead_edges and other not in dead_sites and other not in seen:
                seen.add(other)
                todo.append(other)
    return False


def survives_every_single_failure(
    graph: nx.MultiGraph, site: str, core: set[str], level: str
) -> bool:
    """Brute force: no single failure of the level cuts ``site`` off the core."""
    return all(
        _reaches_core(graph, site, core, dead_edges, dead_sites)
        for dead_edges, dead_sites in [(set(), set()), *_failures(graph, level, site, core)]
    )


def with_link(graph: nx.MultiGraph, site: str, target: str) -> nx.MultiGraph:
    linked = graph.copy()
    linked.add_edge(site, target, key=NEW, risk_groups=())
    return linked


def _distance(graph: nx.MultiGraph, a: str, b: str) -> float:
    na, nb = graph.nodes[a], graph.nodes[b]
    return float(np.hypot(na["x"] - nb["x"], na["y"] - nb["y"]))


def check_every_suggestion(graph: nx.MultiGraph, level: str, *, nearest: bool) -> int:
    """Apply each suggestion and recompute; with ``nearest``, no closer site would do.

    Returns the number of suggestions checked.
    """
    report = redundancy_report(graph, level=level)
    core = set(report.core)
    checked = 0
    for row in report.single_homed.itertuples():
        site, target = row.code, row.new_build_to
        assert not survives_every_single_failure(graph, site, core, level), site
        already_cut_off = not _reaches_core(graph, site, core)
        if target is None:
            # nothing qualifies: then no site at all would give a second path
            if nearest:
                for other in graph:
                    if other != site:
                        linked = with_link(graph, site, other)
                        assert not survives_every_single_failure(linked, site, core, level)
            continue
        linked = with_link(graph, site, target)
        if already_cut_off:
            assert _reaches_core(linked, site, core), (site, target)
        else:
            assert survives_every_single_failure(linked, site, core, level), (level, site, target)
        checked += 1
        if nearest and not already_cut_off:
            gap = _distance(graph, site, target)
            for other in graph:
                if other not in (site, target) and _distance(graph, site, other) < gap - 1e-6:
                    closer = with_link(graph, site, other)
                    assert not survives_every_single_failure(closer, site, core, level), (
                        f"{level}: {site} -> {other} is closer than {target} and would do"
                    )
    return checked


@pytest.fixture(scope="module")
def sample_graph() -> nx.MultiGraph:
    return graph_from_delivery(build_sample())


@pytest.mark.parametrize("level", LEVELS)
def test_every_suggestion_on_the_sample_gives_a_second_independent_path(
    sample_graph: nx.MultiGraph, level: str
) -> None:
    assert check_every_suggestion(sample_graph, level, nearest=False) > 20


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(10))
def test_every_suggestion_on_random_networks_is_right_and_nearest(level: str, seed: int) -> None:
    graph = random_graph(16, 20, seed, groups=4)
    check_every_suggestion(graph, level, nearest=True)


def test_sites_hanging_on_a_pop_are_not_told_to_link_to_that_pop(
    sample_graph: nx.MultiGraph,
) -> None:
    """Épernon and Dreux hang on POP-CHARTRES; each CHATON hangs on its town's PoP.

    A link to the very site they hang on removes no single point of failure at site or
    shared-risk level (at segment level it does: there it is right).
    """
    for level in ("node", "srlg"):
        advice = redundancy_report(sample_graph, level=level).single_homed.set_index("code")
        for site in ("POP-EPERNON", "POP-DREUX"):
            assert advice.loc[site, "new_build_to"] not in (None, "POP-CHARTRES")
        for chaton, pop in (("CHATON-VENDOME", "POP-VENDOME"), ("CHATON-ISSOUDUN", "POP-ISSOUDUN")):
            if chaton in advice.index:
                assert advice.loc[chaton, "new_build_to"] not in (None, pop)
    edge = redundancy_report(sample_graph, level="edge").single_homed.set_index("code")
    assert edge.loc["CHATON-VENDOME", "new_build_to"] == "POP-VENDOME"
