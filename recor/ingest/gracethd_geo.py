"""GraceTHD v2.0.1 geometric, business, zone and address rules.

After GraceTHD-Check's topological and business checks, with its thresholds
(``ct_1_topotol``, ``ct_1_cldistmaxnd``, ``ct_1_dist*``, ``ct_1_sfdistmaxad``):

- line ends: a cheminement ends on its own nodes ``cm_ndcode1``/``cm_ndcode2`` (recor),
  on a node or another cheminement (g80013), on a node carrying a technical site, point,
  SUF or emission site, or another cheminement (m80011); a cable line ends on its cable's
  nodes ``cb_nd1``/``cb_nd2`` (recor), on a node (g80012), on a node carrying a splice
  closure, PTO, technical site or emission site (m80010), near a splice closure, technical
  room or PTO (g80010);
- zones: ZSRO inside its ZNRO, ZPBO inside its ZSRO (m80014/15), no overlap between zones of
  one level (g80016/17/18), each zone's equipment node near its zone (m80019/20/21);
- addresses: duplicate HEXACLE and BAN ids (s80001/2), dwelling and outlet counts of an
  address against its SUF and PTO (s80003/4), SUF far from its address (g80005).

Every finding names the end (start or end point), the distance and the nearest object.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import shapely

from recor.ingest import gracethd_standard as std
from recor.ingest.findings import Findings
from recor.ingest.gracethd_checks import WAIVED, CheckOptions, Draft, as_codes, blank
from recor.ingest.rules import Severity

__all__ = ["check_addresses", "check_line_ends", "check_zones"]

_ENDS = ((0, "début"), (-1, "fin"))


def _geoms(frame: pd.DataFrame) -> np.ndarray:
    if "geometry" not in frame:
        return np.full(len(frame), None, dtype=object)
    return np.asarray(frame["geometry"].array, dtype=object)


def _column(tables: Mapping[str, pd.DataFrame], table: str, name: str) -> pd.Series:
    frame = tables.get(table)
    if frame is None or name not in frame:
        return pd.Series(dtype=object)
    return as_codes(frame[name]).dropna()


def _node_points(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Node code → point (first of duplicated codes)."""
    nodes = tables.get("t_noeud")
    if nodes is None or not len(nodes) or "geometry" not in nodes:
        return pd.Series(dtype=object)
    out = pd.Series(_geoms(nodes), index=as_codes(nodes["nd_code"]).to_numpy())
    return out[~out.index.duplicated() & out.index.notna()]


def _carrying(tables: Mapping[str, pd.DataFrame], *kinds: str) -> set[str]:
    """Codes of the nodes carrying the given kinds of object (as GraceTHD-Check's views)."""

    def via(table: str, key: str, target: str, target_key: str, node: str) -> set[str]:
        frame, parent = tables.get(table), tables.get(target)
        if frame is None or parent is None or key not in frame or node not in parent:
            return set()
        keys = set(as_codes(frame[key]).dropna())
        return set(as_codes(parent.loc[as_codes(parent[target_key]).isin(keys), node]).dropna())

    found: set[str] = set()
    for kind in kinds:
        found |= {
            "st": lambda: set(_column(tables, "t_sitetech", "st_nd_code")),
            "pt": lambda: set(_column(tables, "t_ptech", "pt_nd_code")),
            "sf": lambda: set(_column(tables, "t_suf", "sf_nd_code")),
            "se": lambda: set(_column(tables, "t_siteemission", "se_nd_code")),
            "bp_pt": lambda: via("t_ebp", "bp_pt_code", "t_ptech", "pt_code", "pt_nd_code"),
            "bp_sf": lambda: via("t_ebp", "bp_sf_code", "t_suf", "sf_code", "sf_nd_code"),
            "lt_st": lambda: via("t_ltech", "lt_st_code", "t_sitetech", "st_code", "st_nd_code"),
        }[kind]()
    return found


def _nearest(points: np.ndarray, targets: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest target, and that target's code."""
    distance = np.full(len(points), np.inf)
    code = np.full(len(points), "", dtype=object)
    targets = targets[~shapely.is_missing(np.asarray(targets.to_numpy(), dtype=object))]
    ok = ~shapely.is_missing(points)
    if not len(targets) or not ok.any():
        return distance, code
    tree = shapely.STRtree(np.asarray(targets.to_numpy(), dtype=object))
    (src, dst), dist = tree.query_nearest(points[ok], all_matches=False, return_distance=True)
    where = np.flatnonzero(ok)[src]
    distance[where] = dist
    code[where] = targets.index.to_numpy()[dst]
    return distance, code


def _near_other_line(points: np.ndarray, owners: np.ndarray, lines: np.ndarray, tol: float):
    """True where a point lies within ``tol`` of an end of a line other than its owner."""
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    end_owner = np.concatenate([np.arange(len(lines)), np.arange(len(lines))])
    keep = ~shapely.is_missing(ends)
    tree = shapely.STRtree(ends[keep])
    ok = ~shapely.is_missing(points)
    hit = np.zeros(len(points), dtype=bool)
    src, dst = tree.query(points[ok], predicate="dwithin", distance=tol)
    other = end_owner[keep][dst] != owners[ok][src]
    hit[np.flatnonzero(ok)[src[other]]] = True
    return hit


def _metres(values: np.ndarray) -> list[str]:
    return ["aucun" if not np.isfinite(v) else f"{v:.2f} m" for v in values]


def check_line_ends(
    tables: Mapping[str, pd.DataFrame], options: CheckOptions, findings: Findings, *,
    tolerance: float,
) -> None:  # fmt: skip
    """Line-end rules of cheminements and cable lines (``tolerance``: recor's end snap)."""
    nodes = _node_points(tables)
    topotol = options.thresholds["ct_1_topotol"]
    paths = tables.get("t_cheminement")
    if paths is not None and len(paths) and "geometry" in paths:
        _declared_ends(paths, nodes, ("cm_ndcode1", "cm_ndcode2"), "GTHD-CM-END", tolerance,
                       findings)  # fmt: skip
        lines = _geoms(paths)
        carriers_cm = nodes[nodes.index.isin(_carrying(tables, "pt", "sf", "st", "se"))]
        for position, label in _ENDS:
            points = shapely.get_point(lines, position)
            chained = _near_other_line(points, np.arange(len(lines)), lines, topotol)
            for rule, carriers, suffix, what in (
                ("GTHD-CM-NODE", nodes, "g80013", "aucun nœud ni autre cheminement"),
                ("GTHD-CM-BUSINESS", carriers_cm,
                 "m80011", "aucun nœud portant un site technique, point technique, SUF ou site "
                 "d'émission, ni autre cheminement"),
            ):  # fmt: skip
                distance, near = _nearest(points, carriers)
                off = ~chained & (distance > topotol) & ~shapely.is_missing(points)
                check = std.check_code("t_cheminement", "geom", suffix)
                _far_ends(findings, paths, off, rule, check, f"extrémité {label} : {what}",
                          topotol, near, distance)  # fmt: skip
    cable_lines = tables.get("t_cableline")
    if cable_lines is None or not len(cable_lines) or "geometry" not in cable_lines:
        return
    cables = tables.get("t_cable")
    if cables is not None and {"cb_code", "cb_nd1", "cb_nd2"} <= set(cables.columns):
        by_cable = cables.assign(_key=as_codes(cables["cb_code"])).drop_duplicates("_key")
        by_cable = by_cable.set_index("_key")
        declared = cable_lines.assign(
            cb_nd1=as_codes(cable_lines["cl_cb_code"]).map(by_cable["cb_nd1"]),
            cb_nd2=as_codes(cable_lines["cl_cb_code"]).map(by_cable["cb_nd2"]),
        )
        _declared_ends(declared, nodes, ("cb_nd1", "cb_nd2"), "GTHD-CL-END", tolerance, findings)
    lines = _geoms(cable_lines)
    reach = options.thresholds["ct_1_cldistmaxnd"]
    business = nodes[nodes.index.isin(_carrying(tables, "bp_pt", "bp_sf", "st", "se"))]
    rooms = nodes[nodes.index.isin(_carrying(tables, "bp_pt", "lt_st", "bp_sf"))]
    rules = (
        ("GTHD-CL-NODE", nodes, topotol, "g80012", "aucun nœud"),
        ("GTHD-CL-BUSINESS", business,
         topotol, "m80010", "aucun nœud portant une BPE, un PTO, un site technique ou d'émission"),
        ("GTHD-CL-BUSINESS", rooms,
         reach, "g80010", "aucune BPE, aucun local technique ni PTO"),
    )  # fmt: skip
    for position, label in _ENDS:
        points = shapely.get_point(lines, position)
        for rule, carriers, limit, suffix, what in rules:
            distance, near = _nearest(points, carriers)
            off = (distance > limit) & ~shapely.is_missing(points)
            check = std.check_code("t_cableline", "geom", suffix)
            _far_ends(findings, cable_lines, off, rule, check, f"extrémité {label} : {what}",
                      limit, near, distance)  # fmt: skip


def _far_ends(
    findings: Findings, frame: pd.DataFrame, off: np.ndarray, rule: str, check: str,
    what: str, limit: float, near: np.ndarray, distance: np.ndarray,
) -> None:  # fmt: skip
    """One finding per line end (``off``) farther than ``limit`` from what it should reach."""
    metres = _metres(distance)
    messages = [
        f"{what} à moins de {limit:g} m (le plus proche : {n or '—'} à {d})"
        for n, d in zip(near, metres, strict=True)
    ]
    findings.add_rows(
        frame, off, rule, pd.Series(messages, index=frame.index), field="geom",
        values=pd.Series(metres, index=frame.index), check=check,
    )  # fmt: skip


def _declared_ends(
    frame: pd.DataFrame, nodes: pd.Series, fields: tuple[str, str], rule: str, tolerance: float,
    findings: Findings,
) -> None:  # fmt: skip
    """Each end on its declared node; a line drawn the other way round is accepted."""
    lines = _geoms(frame)
    start, end = shapely.get_point(lines, 0), shapely.get_point(lines, -1)
    first, second = (as_codes(frame[f]).map(nodes).to_numpy(dtype=object) for f in fields)
    first = np.where(pd.isna(first), None, first)
    second = np.where(pd.isna(second), None, second)
    with np.errstate(invalid="ignore"):
        direct = np.stack([shapely.distance(start, first), shapely.distance(end, second)])
        swapped = np.stack([shapely.distance(end, first), shapely.distance(start, second)])
    use_swap = np.nan_to_num(np.fmax(*swapped), nan=np.inf) < np.nan_to_num(
        np.fmax(*direct), nan=np.inf
    )
    gaps = np.where(use_swap, swapped, direct)
    for which, name in enumerate(fields):
        gap = gaps[which]
        off = np.isfinite(gap) & (gap > tolerance)
        end_label = np.where(use_swap != (which == 1), "fin", "début")
        findings.add_rows(
            frame, off, rule,
            pd.Series([f"extrémité {e} du tracé à {g:.2f} m de son nœud {name} "
                       f"(tolérance {tolerance:g} m)" for e, g in zip(end_label, gap, strict=True)],
                      index=frame.index),
            field=name,
            values=as_codes(frame[name]).astype(str) + pd.Series(
                [f" à {g:.2f} m" for g in gap], index=frame.index),
        )  # fmt: skip


_ZONES = (
    # table, prefix, parent table, parent field, nesting check, overlap check, node check, distance
    ("t_znro", "zn", None, None, None, "g80016", "m80019", "ct_1_distnrozanro"),
    ("t_zsro", "zs", "t_znro", "zs_zn_code", "m80014", "g80017", "m80020", "ct_1_distsrozasro"),
    ("t_zpbo", "zp", "t_zsro", "zp_zs_code", "m80015", "g80018", "m80021", "ct_1_distpbozapbo"),
)


def check_zones(
    tables: Mapping[str, pd.DataFrame], options: CheckOptions, findings: Findings
) -> None:
    """Zones inside their parent, no overlap within a level, equipment near its zone."""
    tol = options.thresholds["ct_1_topotol"]
    nodes = _node_points(tables)
    for table, prefix, parent, parent_field, nesting, overlap, near, distance_key in _ZONES:
        zones = tables.get(table)
        if zones is None or not len(zones) or "geometry" not in zones:
            continue
        geoms = _geoms(zones)
        codes = as_codes(zones[f"{prefix}_code"]).to_numpy(dtype=object)
        if parent and parent in tables and parent_field in zones and len(tables[parent]):
            outer = tables[parent]
            key = as_codes(outer[f"{parent[2:4]}_code"])
            grown = pd.Series(shapely.buffer(_geoms(outer), tol), index=key.to_numpy())
            grown = grown[~grown.index.duplicated()]
            mine = as_codes(zones[parent_field]).map(grown).to_numpy(dtype=object)
            mine = np.where(pd.isna(mine), None, mine)
            has = ~shapely.is_missing(mine) & ~shapely.is_missing(geoms)
            outside = np.zeros(len(zones), dtype=bool)
            outside[has] = ~shapely.within(geoms[has], mine[has])
            spill = np.zeros(len(zones))
            spill[has] = shapely.area(shapely.difference(geoms[has], mine[has]))
            check = std.check_code(table, "geom", nesting)
            message = (
                "déborde de "
                + as_codes(zones[parent_field]).astype(str)
                + pd.Series(
                    [f" de {a:.1f} m² (tolérance {tol:g} m)" for a in spill], index=zones.index
                )
            )
            waived = _draft_nesting(zones, parent_field, outer, key, geoms, outside, options, check)
            findings.add_rows(
                zones, outside & ~waived, "GTHD-ZONE-NESTING", message, field=parent_field,
                check=check,
            )  # fmt: skip
            if waived.any():
                draft_tol = options.draft.zone_tolerance_m  # type: ignore[union-attr]
                findings.add_rows(
                    zones, waived, "GTHD-ZONE-NESTING",
                    message + f" ; dans les {draft_tol:g} m admis pour un brouillon "
                    "(gracethd_draft.zone_tolerance_m)" + WAIVED,
                    field=parent_field, severity=Severity.WARNING, check=check,
                )  # fmt: skip
        _check_overlaps(zones, geoms, codes, tol, std.check_code(table, "geom", overlap), findings)
        node_field = f"{prefix}_nd_code"
        if node_field in zones:
            limit = options.thresholds[distance_key]
            where = as_codes(zones[node_field]).map(nodes).to_numpy(dtype=object)
            where = np.where(pd.isna(where), None, where)
            gap = shapely.distance(geoms, where)
            far = np.isfinite(gap) & (gap > limit)
            findings.add_rows(
                zones, far, "GTHD-ZONE-FAR",
                pd.Series([f"nœud de la zone à {g:.2f} m de son contour (maximum {limit:g} m, "
                           f"{distance_key})" for g in gap], index=zones.index),
                field=node_field, check=std.check_code(table, "geom", near),
            )  # fmt: skip


def _draft_nesting(
    zones: pd.DataFrame, parent_field: str, outer: pd.DataFrame, key: pd.Series,
    geoms: np.ndarray, outside: np.ndarray, options: CheckOptions, check: str,
) -> np.ndarray:  # fmt: skip
    """Zones outside their parent but inside it grown by the draft's ``zone_tolerance_m``."""
    draft = options.draft
    waived = np.zeros(len(zones), dtype=bool)
    if draft is None or draft.zone_tolerance_m <= 0 or not Draft.waivable_check(check):
        return waived
    grown = pd.Series(shapely.buffer(_geoms(outer), draft.zone_tolerance_m), index=key.to_numpy())
    grown = grown[~grown.index.duplicated()]
    mine = as_codes(zones[parent_field]).map(grown).to_numpy(dtype=object)
    mine = np.where(pd.isna(mine), None, mine)
    rows = outside & ~shapely.is_missing(mine)
    waived[rows] = shapely.within(geoms[rows], mine[rows])
    return waived


def _check_overlaps(
    zones: pd.DataFrame, geoms: np.ndarray, codes: np.ndarray, tol: float, check: str,
    findings: Findings,
) -> None:  # fmt: skip
    ok = ~shapely.is_missing(geoms)
    shrunk = shapely.buffer(geoms[ok], -tol)
    tree = shapely.STRtree(shrunk)
    src, dst = tree.query(geoms[ok], predicate="intersects")
    index = np.flatnonzero(ok)
    src, dst = index[src], index[dst]
    other = codes[src] != codes[dst]
    src, dst = src[other], dst[other]
    if not len(src):
        return
    partners: dict[int, list[str]] = {}
    for a, b in zip(src, dst, strict=True):
        partners.setdefault(int(a), []).append(str(codes[b]))
    mask = np.zeros(len(zones), dtype=bool)
    mask[list(partners)] = True
    findings.add_rows(
        zones, mask, "GTHD-ZONE-OVERLAP",
        pd.Series({zones.index[i]: "superposée à " + ", ".join(sorted(p)) + f" au-delà de {tol:g} m"
                   for i, p in partners.items()}).reindex(zones.index),
        field="geom", values="", check=check,
    )  # fmt: skip


def check_addresses(
    tables: Mapping[str, pd.DataFrame], options: CheckOptions, findings: Findings
) -> None:
    """Duplicate BAN/HEXACLE ids, counts at an address, SUF far from its address."""
    addresses = tables.get("t_adresse")
    if addresses is None or not len(addresses):
        return
    for name, suffix in (("ad_hexacle", "s80001"), ("ad_ban_id", "s80002")):
        if name not in addresses:
            continue
        values = as_codes(addresses[name])
        dup = ~blank(addresses[name]) & values.duplicated(keep=False).to_numpy()
        findings.add_rows(
            addresses, dup, "GTHD-AD-DUP", f"{name} porté par plusieurs adresses", field=name,
            check=std.check_code("t_adresse", name, suffix),
        )  # fmt: skip
    sufs = tables.get("t_suf")
    if sufs is None or not len(sufs) or "sf_ad_code" not in sufs:
        return
    _check_counts(addresses, sufs, tables.get("t_ebp"), findings)
    nodes = _node_points(tables)
    located = pd.Series(_geoms(addresses), index=as_codes(addresses["ad_code"]).to_numpy())
    located = located[~located.index.duplicated()]
    at = as_codes(sufs["sf_ad_code"]).map(located).to_numpy(dtype=object)
    node = as_codes(sufs["sf_nd_code"]).map(nodes).to_numpy(dtype=object) if (
        "sf_nd_code" in sufs) else np.full(len(sufs), None)  # fmt: skip
    at, node = np.where(pd.isna(at), None, at), np.where(pd.isna(node), None, node)
    gap = shapely.distance(at, node)
    limit = options.thresholds["ct_1_sfdistmaxad"]
    far = np.isfinite(gap) & (gap > limit)
    findings.add_rows(
        sufs, far, "GTHD-SUF-FAR",
        pd.Series([f"nœud du SUF à {g:.1f} m de son adresse (maximum {limit:g} m, "
                   "ct_1_sfdistmaxad)" for g in gap], index=sufs.index),
        field="sf_ad_code", check=std.check_code("t_adresse", "geom", "g80005"),
    )  # fmt: skip


def _check_counts(
    addresses: pd.DataFrame, sufs: pd.DataFrame, closures: pd.DataFrame | None,
    findings: Findings,
) -> None:  # fmt: skip
    at = as_codes(sufs["sf_ad_code"])
    counts = {"s80004": at.value_counts()}
    if closures is not None and len(closures) and "bp_sf_code" in closures:
        suf_address = pd.Series(at.to_numpy(), index=as_codes(sufs["sf_code"]).to_numpy())
        suf_address = suf_address[~suf_address.index.duplicated()]
        counts["s80003"] = as_codes(closures["bp_sf_code"]).map(suf_address).value_counts()
    code = as_codes(addresses["ad_code"])
    for suffix, (a, b, what) in (
        ("s80004", ("ad_nblhab", "ad_nblpro", "SUF")),
        ("s80003", ("ad_nbprhab", "ad_nbprpro", "PTO (BPE dans un SUF)")),
    ):
        if suffix not in counts or a not in addresses or b not in addresses:
            continue
        declared = pd.to_numeric(addresses[a], errors="coerce") + pd.to_numeric(
            addresses[b], errors="coerce"
        )
        found = code.map(counts[suffix])
        wrong = found.notna() & declared.notna() & (declared != 0) & (declared != found)
        findings.add_rows(
            addresses, wrong.to_numpy(dtype=bool), "GTHD-AD-COUNT",
            f"{a} + {b} = " + declared.map(lambda v: f"{v:g}") + f" mais {what} à l'adresse : "
            + found.map(lambda v: "—" if pd.isna(v) else f"{v:g}"),
            field=a, check=std.check_code("t_adresse", a, suffix),
        )  # fmt: skip
