"""GraceTHD v2 delivery checks, after the national GraceTHD-Check tool, in pure Python.

Rules (ids in :mod:`recor.ingest.rules`): mandatory tables and fields by phase (``*_statut``),
values from the delivery's own ``l_*.csv`` lists, resolved references, unique identifiers,
cable capacity (``cb_capafo`` 2–780, ``cb_fo_util`` ≤ capacity, one capacity per cable
reference), cheminement and cable-line ends on nodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from recor.ingest.findings import Findings

__all__ = ["PHASES", "as_codes", "check_gracethd", "delivery_phase"]

#: Study phases of l_statut, in order.
PHASES: tuple[str, ...] = ("PRE", "DIA", "AVP", "PRO", "ACT", "EXE", "TVX", "REC", "MCO")

#: table → identifier column.
IDENTIFIERS = {
    "t_noeud": "nd_code",
    "t_cheminement": "cm_code",
    "t_cable": "cb_code",
    "t_conduite": "cd_code",
    "t_sitetech": "st_code",
    "t_cableline": "cl_code",
}

#: Mandatory fields: table → {field: first phase from which it is mandatory}.
REQUIRED: dict[str, dict[str, str]] = {
    "t_noeud": {"nd_code": "PRE", "nd_type": "PRE"},
    "t_cheminement": {
        "cm_code": "PRE", "cm_ndcode1": "PRE", "cm_ndcode2": "PRE", "cm_statut": "PRE",
        "cm_avct": "PRE", "cm_typ_imp": "AVP", "cm_typelog": "PRO", "cm_long": "EXE",
    },
    "t_cable": {
        "cb_code": "PRE", "cb_statut": "PRE", "cb_capafo": "PRE", "cb_nd1": "AVP", "cb_nd2": "AVP",
        "cb_avct": "PRE", "cb_typephy": "PRO", "cb_fo_util": "EXE", "cb_lgreel": "REC",
    },
    "t_sitetech": {"st_code": "PRE", "st_nd_code": "PRE", "st_statut": "PRE", "st_typelog": "PRE"},
    "t_conduite": {"cd_code": "PRE", "cd_statut": "PRE", "cd_type": "EXE"},
    "t_cab_cond": {"cc_cb_code": "PRE", "cc_cd_code": "PRE"},
    "t_cond_chem": {"dm_cd_code": "PRE", "dm_cm_code": "PRE"},
    "t_cableline": {"cl_code": "PRE", "cl_cb_code": "PRE"},
}  # fmt: skip

#: Tables mandatory from a phase on (ducts and cable–duct links from EXE).
REQUIRED_TABLES: dict[str, str] = {
    "t_noeud": "PRE",
    "t_cheminement": "PRE",
    "t_cable": "AVP",
    "t_conduite": "EXE",
    "t_cab_cond": "EXE",
    "t_cond_chem": "EXE",
}

#: Enumerated fields → code list.
LISTS: dict[tuple[str, str], str] = {
    ("t_noeud", "nd_type"): "l_noeud_type",
    ("t_cheminement", "cm_statut"): "l_statut",
    ("t_cheminement", "cm_avct"): "l_avancement",
    ("t_cheminement", "cm_typ_imp"): "l_implantation_type",
    ("t_cheminement", "cm_typelog"): "l_infra_type_log",
    ("t_cheminement", "cm_etat"): "l_etat_type",
    ("t_cable", "cb_statut"): "l_statut",
    ("t_cable", "cb_avct"): "l_avancement",
    ("t_cable", "cb_etat"): "l_etat_type",
    ("t_cable", "cb_typephy"): "l_cable_type",
    ("t_cable", "cb_proptyp"): "l_propriete_type",
    ("t_sitetech", "st_statut"): "l_statut",
    ("t_sitetech", "st_avct"): "l_avancement",
    ("t_sitetech", "st_typelog"): "l_site_type_log",
    ("t_sitetech", "st_typephy"): "l_site_type_phy",
    ("t_conduite", "cd_statut"): "l_statut",
    ("t_conduite", "cd_avct"): "l_avancement",
    ("t_conduite", "cd_type"): "l_conduite_type",
}

#: References: (table, field) → (target table, identifier).
REFERENCES: dict[tuple[str, str], str] = {
    ("t_cheminement", "cm_ndcode1"): "t_noeud",
    ("t_cheminement", "cm_ndcode2"): "t_noeud",
    ("t_cable", "cb_nd1"): "t_noeud",
    ("t_cable", "cb_nd2"): "t_noeud",
    ("t_sitetech", "st_nd_code"): "t_noeud",
    ("t_cableline", "cl_cb_code"): "t_cable",
    ("t_cab_cond", "cc_cb_code"): "t_cable",
    ("t_cab_cond", "cc_cd_code"): "t_conduite",
    ("t_cond_chem", "dm_cd_code"): "t_conduite",
    ("t_cond_chem", "dm_cm_code"): "t_cheminement",
}

_STATUT_FIELD = {"t_cheminement": "cm_statut", "t_cable": "cb_statut", "t_sitetech": "st_statut",
                 "t_conduite": "cd_statut"}  # fmt: skip


def _rank(values: pd.Series) -> np.ndarray:
    order = {p: i for i, p in enumerate(PHASES)}
    return values.map(order).fillna(-1).to_numpy(dtype=int)


def as_codes(series: pd.Series) -> pd.Series:
    """Values as code strings: ``7.0`` read from a numeric field is code ``"7"``."""

    def text(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return series.astype(object).map(text, na_action="ignore").astype(object)


def _blank(series: pd.Series) -> np.ndarray:
    return (series.isna() | (series.astype(str).str.strip() == "")).to_numpy()


def delivery_phase(tables: dict[str, pd.DataFrame]) -> str | None:
    """The most advanced phase declared by the delivery's objects (None if none is)."""
    ranks = [
        _rank(tables[t][f]).max(initial=-1)
        for t, f in _STATUT_FIELD.items()
        if t in tables and f in tables[t] and len(tables[t])
    ]
    best = max(ranks, default=-1)
    return PHASES[best] if best >= 0 else None


def check_gracethd(
    tables: dict[str, pd.DataFrame],
    lists: dict[str, set[str]],
    findings: Findings,
    *,
    tolerance: float,
) -> str | None:
    """Run every GraceTHD rule on the delivery's tables; returns the delivery's phase."""
    phase = delivery_phase(tables)
    if phase is None:
        findings.add(
            "GTHD-STATUT", "aucun objet n'indique sa phase (*_statut) : contrôles de la phase PRE"
        )
    phase_rank = PHASES.index(phase) if phase else 0
    for table, first in REQUIRED_TABLES.items():
        if phase_rank >= PHASES.index(first) and (table not in tables or not len(tables[table])):
            findings.add(
                "GTHD-TABLE-MISSING",
                f"table {table} absente ou vide alors qu'elle est obligatoire à partir de la "
                f"phase {first} (livraison en phase {phase})",
                file=f"{table}",
            )
    for table, frame in tables.items():
        _check_required(table, frame, findings)
        _check_lists(table, frame, lists, findings)
        _check_duplicates(table, frame, findings)
    _check_references(tables, findings)
    if "t_cable" in tables:
        _check_capacity(tables["t_cable"], findings)
    _check_ends(tables, findings, tolerance)
    return phase


def _check_required(table: str, frame: pd.DataFrame, findings: Findings) -> None:
    statut = _STATUT_FIELD.get(table)
    rank = _rank(frame[statut]) if statut and statut in frame else np.full(len(frame), 0)
    for field, first in REQUIRED.get(table, {}).items():
        values = (
            frame[field] if field in frame else pd.Series(None, index=frame.index, dtype=object)
        )
        missing = _blank(values) & (np.maximum(rank, 0) >= PHASES.index(first))
        findings.add_rows(
            frame, missing, "GTHD-FIELD-REQUIRED",
            f"champ obligatoire à partir de la phase {first}", field=field,
        )  # fmt: skip


def _check_lists(
    table: str, frame: pd.DataFrame, lists: dict[str, set[str]], findings: Findings
) -> None:
    for (list_table, field), list_name in LISTS.items():
        if list_table != table or field not in frame or list_name not in lists:
            continue
        values = as_codes(frame[field])
        wrong = ~_blank(frame[field]) & ~values.isin(lists[list_name]).to_numpy()
        findings.add_rows(
            frame, wrong, "GTHD-LIST",
            f"valeur absente de la liste {list_name}.csv de la livraison", field=field,
        )  # fmt: skip


def _check_duplicates(table: str, frame: pd.DataFrame, findings: Findings) -> None:
    field = IDENTIFIERS.get(table)
    if field is None or field not in frame:
        return
    codes = frame[field]
    dup = (codes.duplicated(keep=False) & ~pd.Series(_blank(codes), index=frame.index)).to_numpy()
    findings.add_rows(frame, dup, "GTHD-CODE-DUP", f"identifiant {field} en double", field=field)


def _check_references(tables: dict[str, pd.DataFrame], findings: Findings) -> None:
    for (table, field), target in REFERENCES.items():
        if table not in tables or field not in tables[table]:
            continue
        frame = tables[table]
        known = tables[target][IDENTIFIERS[target]] if target in tables else pd.Series(dtype=object)
        values = frame[field]
        unresolved = ~_blank(values) & ~values.isin(set(known.dropna())).to_numpy()
        findings.add_rows(
            frame, unresolved, "GTHD-REF",
            f"référence inconnue : absente de {target}.{IDENTIFIERS[target]}", field=field,
        )  # fmt: skip


def _check_capacity(cables: pd.DataFrame, findings: Findings) -> None:
    capacity = pd.to_numeric(cables.get("cb_capafo"), errors="coerce")
    used = pd.to_numeric(cables.get("cb_fo_util"), errors="coerce")
    bad = (capacity.notna() & ((capacity < 2) | (capacity > 780))).to_numpy()
    findings.add_rows(
        cables, bad, "GTHD-CAPAFO", "capacité attendue entre 2 et 780 fibres", field="cb_capafo"
    )
    not_number = (
        (~_blank(cables["cb_capafo"]) & capacity.isna().to_numpy())
        if "cb_capafo" in cables
        else None
    )
    if not_number is not None:
        findings.add_rows(cables, not_number, "ATTR-TYPE", "nombre attendu", field="cb_capafo")
    if used is not None and "cb_fo_util" in cables:
        over = (used > capacity).fillna(False).to_numpy(dtype=bool)
        findings.add_rows(
            cables, over, "GTHD-FO-UTIL", "cb_fo_util supérieur à cb_capafo", field="cb_fo_util"
        )
    if "cb_rf_code" in cables:
        ref = cables["cb_rf_code"].where(
            ~pd.Series(_blank(cables["cb_rf_code"]), index=cables.index)
        )
        spread = capacity.groupby(ref).transform("nunique")
        mixed = (ref.notna() & (spread > 1)).to_numpy()
        findings.add_rows(
            cables, mixed, "GTHD-RF-CAPA",
            "d'autres câbles de la même référence ont une autre capacité", field="cb_capafo",
        )  # fmt: skip


def _check_ends(tables: dict[str, pd.DataFrame], findings: Findings, tolerance: float) -> None:
    nodes = tables.get("t_noeud")
    if nodes is None or "geometry" not in nodes or not len(nodes):
        return
    where = pd.Series(
        np.asarray(nodes.geometry.array, dtype=object), index=nodes["nd_code"].to_numpy()
    )
    where = where[~where.index.duplicated()]
    paths = tables.get("t_cheminement")
    if paths is not None and "geometry" in paths and len(paths):
        lines = np.asarray(paths.geometry.array, dtype=object)
        start, end = shapely.get_point(lines, 0), shapely.get_point(lines, -1)
        n1, n2 = (
            paths[f].map(where).astype(object).where(lambda s: s.notna(), None).to_numpy()
            for f in ("cm_ndcode1", "cm_ndcode2")
        )
        with np.errstate(invalid="ignore"):
            direct = np.maximum(shapely.distance(start, n1), shapely.distance(end, n2))
            swapped = np.maximum(shapely.distance(start, n2), shapely.distance(end, n1))
            gap = np.fmin(direct, swapped)
        off = np.isfinite(gap) & (gap > tolerance)
        findings.add_rows(
            paths, off, "GTHD-CM-END", "extrémité du cheminement hors de son nœud (cm_ndcode1/2)",
            field="cm_ndcode1",
            values=pd.Series(np.round(gap, 2), index=paths.index).astype(str) + " m",
        )  # fmt: skip
    cable_lines = tables.get("t_cableline")
    if cable_lines is not None and "geometry" in cable_lines and len(cable_lines):
        tree = shapely.STRtree(np.asarray(where.to_numpy(), dtype=object))
        lines = np.asarray(cable_lines.geometry.array, dtype=object)
        ok = ~shapely.is_missing(lines)
        off = np.zeros(len(lines), dtype=bool)
        for position in (0, -1):
            points = shapely.get_point(lines[ok], position)
            near = tree.query_nearest(points, max_distance=tolerance, all_matches=False)
            hit = np.zeros(len(points), dtype=bool)
            hit[near[0]] = True
            off[np.flatnonzero(ok)[~hit]] = True
        findings.add_rows(
            cable_lines, off, "GTHD-CL-END", "extrémité de câble (t_cableline) hors de tout nœud",
            field="geometry", values="",
        )  # fmt: skip
