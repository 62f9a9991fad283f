"""Which sites hang on a single point of failure, and what it would cost to fix them.

Run: python routing/single_homed.py [TOP]
"""

from __future__ import annotations

import sys

from recor.network import graph_from_delivery, redundancy_report
from recor.sample import build_sample


def main(top: int = 10) -> None:
    graph = graph_from_delivery(build_sample())
    report = redundancy_report(graph, level="srlg")
    print(f"core: {', '.join(report.core)}")
    print(f"{len(report.bridges)} bridges, {len(report.articulation_sites)} articulation sites")
    for cut in report.srlg_cuts:
        print(f"shared-risk group {cut.group} cuts off: {', '.join(cut.sites_cut_off) or '-'}")
    columns = ["code", "served", "srlg_paths", "new_build_to", "new_build_km"]
    print(report.single_homed[columns].head(top).to_string(index=False))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
