"""A realistic, synthetic RECOR network of Centre-Val de Loire, for demos, docs and tests.

Built from facts: the real positions and INSEE codes of the six prefectures and of more than
forty other towns (checked against IGN Admin Express by a test). On them: three backbone
rings (Loire–Beauce, Berry–Touraine, Gâtinais–Val de Loire) and a mesh link, collect spurs,
splice chambers on long links, three datacentres, CHATON nodes, public sites, cables sharing
ducts, a trench and a Loire bridge, and deliberate single points of failure (Dreux, Chinon,
the Bourges datacentre). Routes wiggle like roads, not straight lines.

``build_sample(segments=N)`` scales the same network to N segments for benchmarks: the real
backbone plus a planar mesh of splice chambers over the region (Delaunay edges: a spanning
tree plus the shortest others), eight vertices a segment, deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely import ops

from recor.config import STORAGE_CRS
from recor.domain import (
    RISK_GROUP_COLUMNS,
    SEGMENT_COLUMNS,
    SEGMENT_RISK_COLUMNS,
    SHAPEFILE_FIELD_NAMES,
    SITE_COLUMNS,
)
from recor.registry.model import Delivery

__all__ = ["TOWNS", "build_sample", "write_sample"]

log = logging.getLogger(__name__)

SOURCE = "recor-sample"
OPERATOR = "GIP RECIA"

#: Town → (INSEE code, latitude, longitude) in WGS84.
TOWNS: dict[str, tuple[str, float, float]] = {
    "Orléans": ("45234", 47.9030, 1.9093),
    "Tours": ("37261", 47.3941, 0.6848),
    "Bourges": ("18033", 47.0810, 2.3988),
    "Blois": ("41018", 47.5861, 1.3359),
    "Chartres": ("28085", 48.4439, 1.4890),
    "Châteauroux": ("36044", 46.8103, 1.6913),
    "Vierzon": ("18279", 47.2219, 2.0686),
    "Dreux": ("28134", 48.7370, 1.3664),
    "Montargis": ("45208", 47.9975, 2.7333),
    "Vendôme": ("41269", 47.7929, 1.0656),
    "Romorantin-Lanthenay": ("41194", 47.3583, 1.7417),
    "Issoudun": ("36088", 46.9486, 1.9933),
    "Châteaudun": ("28088", 48.0708, 1.3380),
    "Gien": ("45155", 47.6886, 2.6306),
    "Loches": ("37132", 47.1286, 0.9953),
    "Chinon": ("37072", 47.1669, 0.2422),
    "Pithiviers": ("45252", 48.1719, 2.2519),
    "Amboise": ("37003", 47.4125, 0.9825),
    "Saint-Amand-Montrond": ("18197", 46.7228, 2.5050),
    "Le Blanc": ("36018", 46.6336, 1.0628),
    "Nogent-le-Rotrou": ("28280", 48.3217, 0.8217),
    "Joué-lès-Tours": ("37122", 47.3522, 0.6628),
    "Fleury-les-Aubrais": ("45147", 47.9333, 1.9167),
    "Olivet": ("45232", 47.8633, 1.9006),
    "Mehun-sur-Yèvre": ("18141", 47.1442, 2.2153),
    "La Châtre": ("36046", 46.5819, 1.9878),
    "Argenton-sur-Creuse": ("36006", 46.5883, 1.5194),
    "Sancerre": ("18241", 47.3314, 2.8367),
    "Aubigny-sur-Nère": ("18015", 47.4883, 2.4389),
    "Montoire-sur-le-Loir": ("41149", 47.7525, 0.8650),
    "Lamotte-Beuvron": ("41106", 47.6011, 2.0278),
    "Bonneval": ("28051", 48.1833, 1.3833),
    "Épernon": ("28140", 48.6103, 1.6739),
    "Chambray-lès-Tours": ("37050", 47.3356, 0.7133),
    "Saint-Jean-de-Braye": ("45284", 47.9128, 1.9717),
    "Briare": ("45053", 47.6361, 2.7392),
    "Beaugency": ("45028", 47.7764, 1.6322),
    "Mer": ("41136", 47.7056, 1.5078),
    "Saint-Aignan": ("41198", 47.2686, 1.3761),
    "Buzançais": ("36031", 46.8889, 1.4208),
    "Valençay": ("36228", 47.1583, 1.5667),
    "Langeais": ("37123", 47.3247, 0.4056),
    "Château-Renault": ("37063", 47.5914, 0.9092),
    "Sully-sur-Loire": ("45315", 47.7667, 2.3750),
    "Lucé": ("28218", 48.4372, 1.4650),
    "Saint-Doulchard": ("18205", 47.1033, 2.3522),
    "Artenay": ("45008", 48.0817, 1.8806),
    "Châtillon-Coligny": ("45085", 47.8225, 2.8450),
}

#: Backbone rings, as town sequences (closed: the last town links back to the first).
RINGS: dict[str, list[str]] = {
    "Loire–Beauce": [
        "Orléans", "Beaugency", "Mer", "Blois", "Amboise", "Tours", "Château-Renault",
        "Vendôme", "Châteaudun", "Bonneval", "Chartres", "Artenay",
    ],
    "Berry–Touraine": [
        "Blois", "Romorantin-Lanthenay", "Vierzon", "Mehun-sur-Yèvre", "Bourges", "Issoudun",
        "Châteauroux", "Buzançais", "Loches", "Tours",
    ],
    "Gâtinais–Val de Loire": [
        "Orléans", "Pithiviers", "Montargis", "Châtillon-Coligny", "Briare", "Gien",
        "Sully-sur-Loire", "Saint-Jean-de-Braye",
    ],
}  # fmt: skip

#: Other town-to-town links: (from, to, fibres, installation, status).
LINKS: list[tuple[str, str, int, str, str]] = [
    ("Gien", "Aubigny-sur-Nère", 144, "duct", "in_service"),
    ("Aubigny-sur-Nère", "Bourges", 144, "duct", "in_service"),
    ("Aubigny-sur-Nère", "Sancerre", 48, "aerial", "in_service"),
    ("Chartres", "Lucé", 96, "facade", "in_service"),
    ("Chartres", "Épernon", 72, "duct", "in_service"),
    ("Épernon", "Dreux", 72, "duct", "in_service"),
    ("Chartres", "Nogent-le-Rotrou", 48, "aerial", "in_service"),
    ("Tours", "Joué-lès-Tours", 96, "duct", "in_service"),
    ("Tours", "Chambray-lès-Tours", 96, "duct", "in_service"),
    ("Joué-lès-Tours", "Chambray-lès-Tours", 48, "duct", "in_service"),
    ("Tours", "Langeais", 72, "duct", "in_service"),
    ("Langeais", "Chinon", 48, "buried", "in_service"),
    ("Vendôme", "Montoire-sur-le-Loir", 48, "aerial", "in_service"),
    ("Romorantin-Lanthenay", "Saint-Aignan", 48, "buried", "in_service"),
    ("Saint-Aignan", "Valençay", 48, "buried", "in_service"),
    ("Valençay", "Châteauroux", 72, "duct", "planned"),
    ("Châteauroux", "Argenton-sur-Creuse", 72, "duct", "in_service"),
    ("Argenton-sur-Creuse", "Le Blanc", 48, "aerial", "under_construction"),
    ("Châteauroux", "La Châtre", 48, "aerial", "in_service"),
    ("Bourges", "Saint-Amand-Montrond", 72, "duct", "in_service"),
    ("Bourges", "Saint-Doulchard", 96, "facade", "in_service"),
    ("Orléans", "Olivet", 96, "duct", "in_service"),
    ("Orléans", "Fleury-les-Aubrais", 144, "duct", "in_service"),
    ("Orléans", "Fleury-les-Aubrais", 96, "duct", "in_service"),
    ("Orléans", "Lamotte-Beuvron", 48, "buried", "out_of_service"),
    ("Beaugency", "Mer", 24, "aerial", "abandoned"),
]

#: Datacentres: code → (name, town, lat, lon, towns it is wired to).
DATACENTRES: dict[str, tuple[str, str, float, float, tuple[str, ...]]] = {
    "DC-ORLEANS": ("Datacentre régional d'Orléans-La Source", "Orléans", 47.8420, 1.9390,
                   ("Orléans", "Olivet")),
    "DC-TOURS": ("Datacentre de Tours-Sud", "Tours", 47.3615, 0.7010,
                 ("Tours", "Chambray-lès-Tours")),
    "DC-BOURGES": ("Datacentre de Bourges", "Bourges", 47.0745, 2.4230, ("Bourges",)),
}  # fmt: skip

CHATONS: tuple[str, ...] = ("Vendôme", "Issoudun", "Chinon", "Montargis")
PUBLIC_SITES: dict[str, str] = {
    "Orléans": "Lycée Pothier",
    "Tours": "Hôtel de ville de Tours",
    "Bourges": "Lycée Alain-Fournier",
    "Blois": "Hôtel de ville de Blois",
    "Chartres": "Lycée Marceau",
    "Châteauroux": "Hôtel de ville de Châteauroux",
    "Vierzon": "Hôtel de ville de Vierzon",
    "Dreux": "Lycée Rotrou",
    "Montargis": "Hôtel de ville de Montargis",
    "Gien": "Hôtel de ville de Gien",
    "Loches": "Lycée Thérèse-Planiol",
    "Pithiviers": "Hôtel de ville de Pithiviers",
    "Romorantin-Lanthenay": "Lycée Claude-de-France",
    "Issoudun": "Hôtel de ville d'Issoudun",
    "Saint-Amand-Montrond": "Lycée Jean-Moulin",
    "Nogent-le-Rotrou": "Lycée Rémi-Belleau",
}

#: Shared-risk groups: code → (kind, name, segment selectors (town pair, index of the piece)).
RISKS: dict[str, tuple[str, str, tuple[tuple[str, str, int], ...]]] = {
    "BRIDGE-ORLEANS-LOIRE": ("bridge_crossing", "Pont de l'Europe sur la Loire, Orléans",
                             (("DC-ORLEANS", "Orléans", 0), ("Orléans", "Olivet", 0))),
    "DUCT-ORLEANS-FLEURY": ("duct", "Fourreau Orléans – Fleury-les-Aubrais",
                            (("Orléans", "Fleury-les-Aubrais", 0),
                             ("Orléans", "Fleury-les-Aubrais", 1))),
    "DUCT-TOURS-NORD": ("duct", "Fourreau Tours nord (sortie vers Amboise et Château-Renault)",
                        (("Amboise", "Tours", -1), ("Tours", "Château-Renault", 0))),
    "TRENCH-BOURGES-OUEST": ("trench", "Tranchée commune Bourges ouest",
                             (("Mehun-sur-Yèvre", "Bourges", -1), ("Bourges", "Issoudun", 0))),
}  # fmt: skip

_CHAMBER_SPACING_M = 12_000.0
_TO_L93 = Transformer.from_crs(4326, STORAGE_CRS, always_xy=True)


def _slug(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch if ch.isalnum() else "-" for ch in ascii_name.upper()).strip("-")


def _l93(lat: float, lon: float) -> tuple[float, float]:
    x, y = _TO_L93.transform(lon, lat)
    return float(x), float(y)


def _seed_for(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _route(a: tuple[float, float], b: tuple[float, float], seed: int) -> shapely.LineString:
    """A road-like path from a to b: smooth lateral drift, a vertex every ~800 m."""
    rng = np.random.default_rng(seed)
    pa, pb = np.asarray(a), np.asarray(b)
    length = float(np.hypot(*(pb - pa)))
    n = max(3, int(length / 800.0) + 1)
    t = np.linspace(0.0, 1.0, n)
    normal = np.array([-(pb - pa)[1], (pb - pa)[0]]) / max(length, 1e-9)
    # Large bends over the whole link, then bends every few kilometres, as roads do.
    drift = np.zeros(n)
    for k in (1, 2, 3):
        drift += (
            0.06 * length * rng.uniform(-1, 1) / k * np.sin(k * np.pi * t + rng.uniform(0, np.pi))
        )
    for k in range(4, max(5, int(length / 2500.0))):
        drift += (
            rng.uniform(900.0, 1600.0) / np.sqrt(k) * np.sin(k * np.pi * t + rng.uniform(0, np.pi))
        )
    drift *= np.sin(np.pi * t)
    coords = pa + np.outer(t, pb - pa) + np.outer(drift, normal)
    coords[0], coords[-1] = pa, pb
    return shapely.LineString(np.round(coords, 2))


@dataclass
class _Builder:
    """Accumulates sites, segments and risk links while the sample is drawn."""

    sites: list[dict]
    segments: list[dict]
    pieces: dict[tuple[str, str], list[list[str]]]

    def site(self, code: str, name: str, kind: str, xy: tuple[float, float], insee: str,
             status: str = "in_service", operator: str = OPERATOR) -> str:  # fmt: skip
        self.sites.append(
            {"code": code, "name": name, "kind": kind, "operator": operator, "status": status,
             "source": SOURCE, "extra": {"insee": insee}, "geometry": shapely.Point(xy)}
        )  # fmt: skip
        return code

    def link(self, a: str, b: str, key: tuple[str, str], fibres: int, installation: str,
             status: str) -> None:  # fmt: skip
        """Segments from site a to site b, split at splice chambers on long routes."""
        pa, pb = self._xy(a), self._xy(b)
        line = _route(pa, pb, _seed_for(a, b, len(self.segments)))
        count = max(1, int(np.ceil(line.length / _CHAMBER_SPACING_M)))
        ends = [a]
        for i in range(1, count):
            point = line.interpolate(i / count, normalized=True)
            code = f"CH-{len([s for s in self.sites if s['kind'] == 'chamber']) + 1:04d}"
            insee = self._insee(a) if i <= count / 2 else self._insee(b)
            ends.append(self.site(code, f"Chambre {code[3:]}", "chamber",
                                  (point.x, point.y), insee, status))  # fmt: skip
        ends.append(b)
        codes = []
        for i in range(count):
            piece = ops.substring(line, i / count, (i + 1) / count, normalized=True)
            coords = np.asarray(piece.coords)
            coords[0], coords[-1] = self._xy(ends[i]), self._xy(ends[i + 1])
            codes.append(self._segment(ends[i], ends[i + 1], shapely.LineString(coords),
                                       fibres, installation, status))  # fmt: skip
        self.pieces.setdefault(key, []).append(codes)

    def _segment(self, a: str, b: str, geometry: shapely.LineString, fibres: int,
                 installation: str, status: str) -> str:  # fmt: skip
        code = f"SEG-{len(self.segments) + 1:04d}"
        rng = np.random.default_rng(_seed_for(code))
        used = int(rng.integers(0, fibres // 2 + 1)) if status == "in_service" else 0
        year = int(rng.integers(2006, 2025))
        self.segments.append(
            {"code": code, "site_a": a, "site_b": b, "fibre_count": fibres, "fibres_used": used,
             "cable_type": f"G.652D {fibres} FO", "installation": installation,
             "status": status, "owner": "Région Centre-Val de Loire", "operator": OPERATOR,
             "commissioned_on": date(year, int(rng.integers(1, 13)), 1)
             if status in {"in_service", "out_of_service", "abandoned"} else None,
             "source": SOURCE, "extra": {}, "geometry": geometry}
        )  # fmt: skip
        return code

    def _xy(self, code: str) -> tuple[float, float]:
        point = next(s["geometry"] for s in self.sites if s["code"] == code)
        return point.x, point.y

    def _insee(self, code: str) -> str:
        return next(s["extra"]["insee"] for s in self.sites if s["code"] == code)


def _pop(town: str) -> str:
    return f"POP-{_slug(town)}"


def _offset(town: str, distance_m: float, salt: str) -> tuple[float, float]:
    _, lat, lon = TOWNS[town]
    x, y = _l93(lat, lon)
    angle = np.random.default_rng(_seed_for(town, salt)).uniform(0, 2 * np.pi)
    return round(x + distance_m * np.cos(angle), 2), round(y + distance_m * np.sin(angle), 2)


def _town_network() -> tuple[_Builder, pd.DataFrame, pd.DataFrame]:
    b = _Builder([], [], {})
    for town, (insee, lat, lon) in TOWNS.items():
        b.site(_pop(town), f"PoP {town}", "pop", _l93(lat, lon), insee)
    for ring in RINGS.values():
        for a, c in zip(ring, ring[1:] + ring[:1], strict=True):
            b.link(_pop(a), _pop(c), (a, c), 288 if len(ring) > 8 else 144, "duct", "in_service")
    for a, c, fibres, installation, status in LINKS:
        b.link(_pop(a), _pop(c), (a, c), fibres, installation, status)
    for code, (name, town, lat, lon, wired) in DATACENTRES.items():
        b.site(code, name, "datacentre", _l93(lat, lon), TOWNS[town][0])
        for target in wired:
            b.link(code, _pop(target), (code, target), 288, "duct", "in_service")
    for town in CHATONS:
        code = f"CHATON-{_slug(town)}"
        b.site(code, f"CHATON {town}", "chaton", _offset(town, 1100.0, "chaton"),
               TOWNS[town][0], operator=f"Association CHATON {town}")  # fmt: skip
        b.link(code, _pop(town), (code, town), 24, "buried", "in_service")
    for town, name in PUBLIC_SITES.items():
        code = f"PUB-{_slug(town)}"
        b.site(code, name, "public_site", _offset(town, 1500.0, "public"), TOWNS[town][0])
        b.link(_pop(town), code, (town, code), 24, "facade", "in_service")
    groups, links = [], []
    for code, (kind, name, selectors) in RISKS.items():
        groups.append({"code": code, "kind": kind, "name": name, "source": SOURCE, "extra": {}})
        for a, c, index in selectors:
            runs = b.pieces[(a, c)]
            segment = runs[index][0] if len(runs) > 1 else runs[0][index]
            links.append({"segment_code": segment, "risk_group_code": code})
    return b, pd.DataFrame(groups), pd.DataFrame(links)


def _mesh(
    n_segments: int, first_site: int, seed: int, anchors: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A planar mesh of splice chambers over the region with exactly ``n_segments`` edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    n_points = max(4, int(n_segments / 1.25))
    xmin, ymin, xmax, ymax = 480_000.0, 6_590_000.0, 730_000.0, 6_870_000.0
    points = np.column_stack(
        [rng.uniform(xmin, xmax, n_points), rng.uniform(ymin, ymax, n_points)]
    ).round(2)
    everything = np.vstack([anchors, points])
    tri = Delaunay(everything)
    simplices = tri.simplices
    edges = np.vstack([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [0, 2]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    lengths = np.hypot(*(everything[edges[:, 0]] - everything[edges[:, 1]]).T)
    size = len(everything)
    tree = minimum_spanning_tree(coo_matrix((lengths, (edges[:, 0], edges[:, 1])), (size, size)))
    tree_edges = np.sort(np.column_stack(tree.nonzero()), axis=1)
    in_tree = np.zeros(len(edges), bool)
    keys = edges[:, 0].astype(np.int64) * size + edges[:, 1]
    in_tree[np.isin(keys, tree_edges[:, 0].astype(np.int64) * size + tree_edges[:, 1])] = True
    others = np.flatnonzero(~in_tree)[np.argsort(lengths[~in_tree], kind="stable")]
    tree_first = np.concatenate([np.flatnonzero(in_tree), others])[:n_segments]
    n_tree = int(min(in_tree.sum(), n_segments))
    chosen = tree_first
    chosen = edges[chosen]
    # Eight vertices a segment: six interior points drifting sideways like a road.
    a, c = everything[chosen[:, 0]], everything[chosen[:, 1]]
    t = np.linspace(0, 1, 8)
    vec = c - a
    normal = np.column_stack([-vec[:, 1], vec[:, 0]])
    phase = rng.uniform(-0.08, 0.08, (len(chosen), 1))
    drift = phase * np.sin(np.pi * t)[None, :]
    coords = (
        a[:, None, :] + t[None, :, None] * vec[:, None, :] + drift[..., None] * normal[:, None, :]
    )
    coords[:, 0], coords[:, -1] = a, c
    codes = np.array([f"S{first_site + i:07d}" for i in range(size)], dtype=object)
    n_anchor = len(anchors)
    kinds = np.full(size, "chamber", dtype=object)
    role = rng.random(size)
    kinds[(role < 0.05)] = "junction"
    kinds[(role >= 0.05) & (role < 0.07)] = "pop"
    kinds[(role >= 0.07) & (role < 0.075)] = "public_site"
    kinds[(role >= 0.075) & (role < 0.0752)] = "chaton"
    kinds[(role >= 0.0752) & (role < 0.0754)] = "datacentre"
    sites = pd.DataFrame(
        {"code": codes[n_anchor:], "kind": kinds[n_anchor:], "x": everything[n_anchor:, 0],
         "y": everything[n_anchor:, 1]}
    )  # fmt: skip
    segments = pd.DataFrame({"a": chosen[:, 0], "b": chosen[:, 1]})
    segments["coords"] = list(np.round(coords, 2))
    segments.attrs["site_codes"] = codes
    # The spanning tree comes first: those segments stay in service, so the in-service
    # network is connected, as the real one is.
    segments["in_tree"] = np.arange(len(chosen)) < n_tree
    return sites, segments


def build_sample(segments: int | None = None, *, seed: int = 20261128) -> Delivery:
    """The sample network as a :class:`~recor.registry.Delivery` (EPSG:2154).

    Parameters
    ----------
    segments
        None for the bundled regional network (about 200 segments); a number to scale the
        same network up to exactly that many segments (benchmarks: 200,000 or 1,000,000).
    seed
        The same seed gives the same network, byte for byte.
    """
    builder, groups, links = _town_network()
    sites = pd.DataFrame(builder.sites)
    segs = pd.DataFrame(builder.segments)
    if segments is not None and segments > len(segs):
        sites, segs = _scale(sites, segs, segments - len(segs), seed)
    sites_gdf = gpd.GeoDataFrame(sites, geometry="geometry", crs=STORAGE_CRS)
    segs_gdf = gpd.GeoDataFrame(segs, geometry="geometry", crs=STORAGE_CRS)
    return Delivery(
        sites=sites_gdf[[*SITE_COLUMNS, "geometry"]],
        segments=segs_gdf[[*SEGMENT_COLUMNS, "geometry"]],
        risk_groups=groups[list(RISK_GROUP_COLUMNS)],
        segment_risk_groups=links[list(SEGMENT_RISK_COLUMNS)],
    )


def _scale(
    sites: pd.DataFrame, segs: pd.DataFrame, extra_segments: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    pops = sites[sites["kind"] == "pop"]
    anchors = np.array([[p.x, p.y] for p in pops["geometry"]])
    mesh_sites, mesh_segs = _mesh(extra_segments, 1, seed, anchors)
    codes = mesh_segs.attrs["site_codes"]
    codes[: len(anchors)] = pops["code"].to_numpy()
    new_sites = pd.DataFrame({
        "code": mesh_sites["code"], "name": "Chambre " + mesh_sites["code"].str[1:],
        "kind": mesh_sites["kind"], "operator": OPERATOR, "status": "in_service",
        "source": SOURCE, "extra": [{} for _ in range(len(mesh_sites))],
        "geometry": shapely.points(mesh_sites[["x", "y"]].to_numpy()),
    })  # fmt: skip
    n = len(mesh_segs)
    rng = np.random.default_rng(seed + 1)
    fibres = rng.choice([24, 48, 72, 96, 144], n)
    new_segs = pd.DataFrame({
        "code": [f"M{i + 1:07d}" for i in range(n)],
        "site_a": codes[mesh_segs["a"].to_numpy()], "site_b": codes[mesh_segs["b"].to_numpy()],
        "fibre_count": fibres, "fibres_used": (fibres * rng.uniform(0, 0.8, n)).astype(int),
        "cable_type": [f"G.652D {f} FO" for f in fibres],
        "installation": rng.choice(["duct", "buried", "aerial", "facade"], n, p=[.6, .2, .15, .05]),
        "status": np.where(
            mesh_segs["in_tree"].to_numpy(), "in_service",
            rng.choice(["in_service", "planned", "under_construction", "out_of_service"],
                       n, p=[.9, .05, .03, .02]),
        ),
        "owner": "Région Centre-Val de Loire", "operator": OPERATOR,
        "commissioned_on": None, "source": SOURCE, "extra": [{} for _ in range(n)],
        "geometry": shapely.linestrings(np.stack(mesh_segs["coords"].to_numpy())),
    })  # fmt: skip
    return (
        pd.concat([sites, new_sites], ignore_index=True),
        pd.concat([segs, new_segs], ignore_index=True),
    )


def _flatten_extra(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Spread the ``extra`` dicts into plain columns, as a surveyor's file has them."""
    out = frame.drop(columns="extra").copy()
    extra = pd.DataFrame(list(frame["extra"]), index=frame.index)
    for column in extra.columns:
        out[column] = extra[column]
    return out


def write_sample(delivery: Delivery, folder: Path | str) -> dict[str, Path]:
    """Write a delivery in the project's own survey format: a GeoPackage and a Shapefile set.

    Returns
    -------
    dict
        ``gpkg`` → the GeoPackage (layers ``sites``, ``segments``, ``risk_groups``,
        ``segment_risk_groups``); ``shp`` → the folder of ``sites.shp``, ``segments.shp`` and
        the two CSV tables (Shapefile field names shortened to 10 characters, see
        :data:`recor.domain.SHAPEFILE_FIELD_NAMES`).
    """
    folder = Path(folder)
    shp = folder / "shp"
    shp.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "recor_sample.gpkg"
    gpkg.unlink(missing_ok=True)
    sites = _flatten_extra(delivery.sites)
    segments = _flatten_extra(delivery.segments)
    # ISO dates, null when unknown (a Shapefile has no null date, only a null text field).
    segments["commissioned_on"] = [
        None if pd.isna(d) else pd.Timestamp(d).date().isoformat()
        for d in segments["commissioned_on"]
    ]
    pyogrio.write_dataframe(sites, gpkg, layer="sites")
    pyogrio.write_dataframe(segments, gpkg, layer="segments")
    tables = {
        "risk_groups": delivery.risk_groups,
        "segment_risk_groups": delivery.segment_risk_groups,
    }
    for name, table in tables.items():
        if table is not None:
            plain = table.drop(columns=[c for c in ("extra",) if c in table.columns])
            pyogrio.write_dataframe(plain, gpkg, layer=name)
            plain.rename(columns=SHAPEFILE_FIELD_NAMES).to_csv(shp / f"{name}.csv", index=False)
    for name, frame in (("sites", sites), ("segments", segments)):
        target = shp / f"{name}.shp"
        pyogrio.write_dataframe(
            frame.rename(columns=SHAPEFILE_FIELD_NAMES), target, encoding="UTF-8"
        )
    log.info("sample written to %s", folder)
    return {"gpkg": gpkg, "shp": shp}
