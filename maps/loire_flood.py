"""What-if map: the Loire floods 5 km around Tours — which sites lose the core?

.venv/bin/python maps/loire_flood.py [SITE] [RADIUS_KM]
"""

from __future__ import annotations

import sys
from pathlib import Path

from recor import network, registry
from recor.config import Settings
from recor.maps.build import build_whatif_map


def main(site: str = "PoP Tours", radius_km: float = 5.0) -> None:
    """Write ``maps/out/whatif_flood.html`` for a disk centred on a site."""
    settings = Settings.from_env()
    out = Path(settings.maps.out_dir)
    with registry.connect(settings.database) as conn:
        snap = registry.snapshot(conn)
    graph = network.snapshot_graph(snap)
    code = network.resolve_site(graph, site)
    x, y = graph.nodes[code]["x"], graph.nodes[code]["y"]
    doc = build_whatif_map(snap, settings, circle=(x, y, radius_km * 1000.0))
    print(doc.write(out / "whatif_flood.html"))


if __name__ == "__main__":
    main(*sys.argv[1:2], *(float(v) for v in sys.argv[2:3]))
