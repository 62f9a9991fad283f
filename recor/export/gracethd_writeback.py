"""Registry values written onto GraceTHD rows: the inverse of the ``gracethd-v2`` profile.

The import derives registry values from GraceTHD fields (``cm_avct`` → status, the cables'
``cb_capafo`` summed per cheminement → fibre count, ``st_gest`` → operator…). A later
delivery in another format may change those values in the registry; the export writes them
back onto the fields they come from, so that re-importing the export gives the registry's
values. A value is written only where the delivered row no longer derives it; where the
model cannot hold it (a node without technical site has no status), it is left as delivered
and counted in :class:`ExportGaps`, as are the fields the registry cannot fill at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from recor.ingest import gracethd_standard as std
from recor.ingest.gracethd_checks import as_codes
from recor.ingest.profiles import load_profile

__all__ = [
    "ExportGaps",
    "close_references",
    "profile_options",
    "reference_order",
    "references",
    "registry_rows",
    "write_registry_values",
]

#: GraceTHD organisation codes (``or_code``) are at most this long.
_ORG_CODE_LENGTH = 20


@dataclass
class ExportGaps:
    """What the export could not write: ``(table, field, reason)`` → object count, and rows
    left out to keep every reference resolved (table → count)."""

    empty: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    left_out: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, table: str, name: str, reason: str, count: int = 1) -> None:
        """Count ``count`` objects of ``table`` whose ``name`` could not be written."""
        if count:
            self.empty[(table, name, reason)] += count

    def count(self, table: str, name: str) -> int:
        """Objects of ``table`` whose ``name`` could not be written, whatever the reason."""
        return sum(n for (t, f, _), n in self.empty.items() if (t, f) == (table, name))

    def lines(self) -> list[str]:
        """The gaps as French lines, one per table/field (empty when nothing is missing)."""
        out = [
            f"{table}.{name} : {count} objet(s) — {reason}"
            for (table, name, reason), count in sorted(self.empty.items())
            if count
        ]
        out += [
            f"{table} : {count} ligne(s) non exportée(s) — {reason}"
            for (table, reason), count in sorted(self.left_out.items())
            if count
        ]
        return out


@cache
def profile_options() -> dict[str, Any]:
    """The value maps of the built-in ``gracethd-v2`` profile (the import's mapping)."""
    return dict(load_profile("gracethd-v2").options)


def _inverse(mapping: Mapping[str, str], value: object) -> str | None:
    """The profile's first code for a registry value; None for ``other`` (no code says it)."""
    if value in (None, "", "other"):
        return None
    return next((code for code, target in mapping.items() if target == value), None)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return as_codes(frame[column]).where(frame[column].notna(), "").astype(object)


def _status(frame: pd.DataFrame, avct: str, statut: str, default: str) -> pd.Series:
    """The import's status: ``*_avct`` mapped, else ``*_statut`` mapped, else ``default``."""
    opts = profile_options()
    by_avct = _text(frame, avct).map(opts["status_avct"])
    by_statut = _text(frame, statut).map(opts["status_statut"])
    return by_avct.where(by_avct.notna(), by_statut.where(by_statut.notna(), default))


def _set(frame: pd.DataFrame, column: str, mask: pd.Series, values: object) -> None:
    if column not in frame:
        frame[column] = None
    frame[column] = frame[column].astype(object)
    frame.loc[mask, column] = values[mask] if isinstance(values, pd.Series) else values


def _organisations(
    tables: dict[str, pd.DataFrame], values: pd.Series, table: str, name: str, gaps: ExportGaps
) -> pd.Series:
    """Organisation codes for registry operators/owners, adding the missing ``t_organisme``.

    The import takes ``*_gest``/``*_prop`` codes as operator/owner, so the registry's value is
    the code; a value longer than ``or_code`` allows cannot be one and is not written.
    """
    orgs = tables.get("t_organisme")
    if orgs is None:
        orgs = pd.DataFrame(columns=["or_code", "or_nom"])
    known = set(_text(orgs, "or_code"))
    wanted = set(values.dropna()) - {""} - known
    too_long = {v for v in wanted if len(v) > _ORG_CODE_LENGTH}
    new = sorted(wanted - too_long)
    if new:
        added = pd.DataFrame({"or_code": new, "or_nom": new}, dtype=object)
        tables["t_organisme"] = pd.concat([orgs, added], ignore_index=True)
        _count_unknown("t_organisme", added, gaps)
    long_rows = values.isin(too_long)
    gaps.add(table, name, f"nom d'organisme de plus de {_ORG_CODE_LENGTH} caractères",
             int(long_rows.sum()))  # fmt: skip
    return values.where(~long_rows, None).where(values != "", None)


def write_registry_values(
    tables: dict[str, pd.DataFrame],
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    gaps: ExportGaps,
) -> None:
    """Write the registry's values onto the kept rows they no longer derive from (in place)."""
    _write_segments(tables, segments.set_index("code"), gaps)
    _write_sites(tables, sites.set_index("code"), gaps)
    _write_fibres(tables, segments.set_index("code"), gaps)


def _write_segments(
    tables: dict[str, pd.DataFrame], active: pd.DataFrame, gaps: ExportGaps
) -> None:
    paths = tables.get("t_cheminement")
    if paths is None or not len(paths):
        return
    opts = profile_options()
    reg = active.reindex(paths["cm_code"]).set_index(paths.index)
    known = paths["cm_code"].isin(active.index)
    status = reg["status"]
    off = known & (_status(paths, "cm_avct", "cm_statut", "in_service") != status)
    _set(paths, "cm_avct", off, status.map(lambda s: _inverse(opts["status_avct"], s)))
    installed = _text(paths, "cm_typ_imp").map(opts["installation_typ_imp"]).fillna("other")
    off = known & (installed != reg["installation"])
    code = reg["installation"].map(lambda s: _inverse(opts["installation_typ_imp"], s))
    _set(paths, "cm_typ_imp", off & code.notna(), code)
    gaps.add("t_cheminement", "cm_typ_imp", "pose « autre » dans le registre : aucun code ne la"
             " dit, valeur livrée gardée", int((off & code.isna()).sum()))  # fmt: skip
    for column, registry_field in (("cm_gest_do", "operator"), ("cm_prop_do", "owner")):
        off = known & (_text(paths, column) != reg[registry_field].fillna(""))
        values = _organisations(tables, reg.loc[off, registry_field].fillna(""),
                                "t_cheminement", column, gaps)  # fmt: skip
        _set(paths, column, off, values.reindex(paths.index))
    delivered = pd.to_datetime(paths.get("cm_datemes"), errors="coerce")
    dates = pd.to_datetime(reg["commissioned_on"], errors="coerce")
    off = known & ~((delivered == dates) | (delivered.isna() & dates.isna()))
    _set(paths, "cm_datemes", off, dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None))


def _write_sites(tables: dict[str, pd.DataFrame], active: pd.DataFrame, gaps: ExportGaps) -> None:
    nodes = tables.get("t_noeud")
    if nodes is None or not len(nodes):
        return
    opts = profile_options()
    tech = tables.get("t_sitetech")
    has_tech = tech is not None and len(tech) and "st_nd_code" in tech
    first = tech.drop_duplicates("st_nd_code") if has_tech else pd.DataFrame(columns=["st_nd_code"])
    with_tech = nodes["nd_code"].isin(set(first["st_nd_code"]))
    reg = active.reindex(nodes["nd_code"]).set_index(nodes.index)
    known = nodes["nd_code"].isin(active.index)
    # name: st_nom when the technical site has one (the import prefers it), else nd_nom
    st_name = nodes["nd_code"].map(_text(first, "st_nom").set_axis(first["st_nd_code"]))
    st_name = st_name.astype(object)
    by_tech = with_tech & st_name.fillna("").ne("")
    name = st_name.where(by_tech, _text(nodes, "nd_nom"))
    off = known & (name != reg["name"].fillna(""))
    _set(nodes, "nd_nom", off & ~by_tech, reg["name"].replace("", None))
    renamed = reg["name"].where(off & by_tech).set_axis(nodes["nd_code"]).dropna()
    default = opts.get("default_site_status", "in_service")
    no_tech = known & ~with_tech
    _count_unheld(reg.loc[no_tech, "status"], reg.loc[no_tech, "operator"], gaps)
    if not has_tech:
        return
    site = active.reindex(tech["st_nd_code"]).set_index(tech.index)
    on_site = tech["st_nd_code"].isin(active.index)
    _set(tech, "st_nom", tech["st_nd_code"].isin(renamed.index),
         tech["st_nd_code"].map(renamed))  # fmt: skip
    off = on_site & (_status(tech, "st_avct", "st_statut", default) != site["status"])
    _set(tech, "st_avct", off, site["status"].map(lambda s: _inverse(opts["status_avct"], s)))
    off = on_site & (_text(tech, "st_gest") != site["operator"].fillna(""))
    values = _organisations(tables, site.loc[off, "operator"].fillna(""), "t_sitetech",
                            "st_gest", gaps)  # fmt: skip
    _set(tech, "st_gest", off, values.reindex(tech.index))


def _count_unheld(status: pd.Series, operator: pd.Series, gaps: ExportGaps) -> None:
    """Sites without technical site: ``t_noeud`` has no field for a status or an operator."""
    why = "site sans site technique (t_sitetech) : le nœud n'a pas ce champ"
    default = profile_options().get("default_site_status", "in_service")
    gaps.add("t_noeud", "(statut)", why, int((status != default).sum()))
    gaps.add("t_noeud", "(exploitant)", why, int(operator.fillna("").ne("").sum()))


def _write_fibres(tables: dict[str, pd.DataFrame], active: pd.DataFrame, gaps: ExportGaps) -> None:
    """Fibre counts onto ``cb_capafo``/``cb_fo_util``: a cheminement's difference goes to its
    one cable that runs only through cheminements with that same difference."""
    runs = _cable_runs(tables)
    paths = tables.get("t_cheminement")
    kept = set() if paths is None else set(paths["cm_code"]) & set(active.index)
    runs = None if runs is None else runs[runs["cm"].isin(kept)]
    cabled = set() if runs is None else set(runs["cm"])
    for registry_field, column in (("fibre_count", "cb_capafo"), ("fibres_used", "cb_fo_util")):
        bare = active.loc[sorted(kept - cabled), registry_field].notna()
        gaps.add("t_cheminement", f"({registry_field})", "cheminement livré sans câble : le"
                 " registre en connaît un effectif que rien ne porte", int(bare.sum()))  # fmt: skip
        cables = tables.get("t_cable")
        if runs is None or cables is None or column not in cables:
            continue
        values = pd.to_numeric(cables[column], errors="coerce").set_axis(cables["cb_code"])
        values = values[~values.index.duplicated()]
        target = active[registry_field].reindex(sorted(cabled))
        changed = _attribute(runs, values, target)
        left = target.index[target.notna() & ~_matches(runs, values, changed, target)]
        gaps.add("t_cable", column, "effectif de fibres du registre non attribuable à un seul"
                 " câble : valeur livrée gardée", len(left))  # fmt: skip
        for code, value in changed.items():
            cables.loc[cables["cb_code"] == code, column] = str(int(value))


def _cable_runs(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Cable code ``cb`` × cheminement code ``cm`` it runs through (by its ducts)."""
    need = {"t_cable": "cb_code", "t_cab_cond": "cc_cd_code", "t_cond_chem": "dm_cm_code"}
    if not all(t in tables and len(tables[t]) and f in tables[t] for t, f in need.items()):
        return None
    runs = tables["t_cab_cond"][["cc_cb_code", "cc_cd_code"]].merge(
        tables["t_cond_chem"][["dm_cd_code", "dm_cm_code"]],
        left_on="cc_cd_code", right_on="dm_cd_code",
    )  # fmt: skip
    runs = runs.rename(columns={"cc_cb_code": "cb", "dm_cm_code": "cm"})
    return runs[["cb", "cm"]].drop_duplicates()


def _sums(runs: pd.DataFrame, values: pd.Series) -> pd.Series:
    per_run = runs.assign(v=runs["cb"].map(values))
    return per_run.groupby("cm")["v"].agg(lambda v: v.sum() if v.notna().all() else np.nan)


def _matches(
    runs: pd.DataFrame, values: pd.Series, changed: dict[str, float], target: pd.Series
) -> pd.Series:
    sums = _sums(runs, values.copy().where(~values.index.isin(changed), pd.Series(changed)))
    return (sums.reindex(target.index) == target.astype(float)).fillna(False)


def _attribute(runs: pd.DataFrame, values: pd.Series, target: pd.Series) -> dict[str, float]:
    """New cable values making each cheminement's sum the registry's, where one cable can."""
    current = values.copy()
    changed: dict[str, float] = {}
    while True:
        diff = target.astype(float) - _sums(runs, current).reindex(target.index)
        moved = False
        for cm, delta in diff[diff.fillna(0) != 0].items():
            mine = runs.loc[runs["cm"] == cm, "cb"]
            fits = [
                cb for cb in mine
                if pd.notna(current.get(cb))
                and (diff.reindex(runs.loc[runs["cb"] == cb, "cm"]) == delta).all()
            ]  # fmt: skip
            if len(fits) == 1 and current[fits[0]] + delta >= 0:
                current[fits[0]] += delta
                changed[fits[0]] = float(current[fits[0]])
                moved = True
                break
        if not moved:
            return changed


def registry_rows(
    table: str, new: gpd.GeoDataFrame, gaps: ExportGaps, tables: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """``t_noeud`` / ``t_cheminement`` rows for registry sites / segments no delivery brought.

    Filled: what the registry knows and the profile can say (code, ends, name, node type,
    progress, installation, length, commissioning date, organisations). Every other field the
    grid makes mandatory at some phase is counted in ``gaps``.
    """
    opts = profile_options()
    if table == "t_noeud":
        data = {
            "nd_code": new.index,
            "nd_nom": new["name"].replace("", None),
            "nd_type": new["kind"].map(lambda k: _inverse(opts["site_kind_nd_type"], k)),
        }
        _count_unheld(new["status"], new["operator"], gaps)
    else:
        data = {
            "cm_code": new.index,
            "cm_ndcode1": new["site_a"],
            "cm_ndcode2": new["site_b"],
            "cm_avct": new["status"].map(lambda s: _inverse(opts["status_avct"], s)),
            "cm_typ_imp": new["installation"].map(
                lambda s: _inverse(opts["installation_typ_imp"], s)
            ),
            "cm_long": new["length_m"].round(2).map(lambda v: f"{v:.2f}", na_action="ignore"),
            "cm_datemes": pd.to_datetime(new["commissioned_on"], errors="coerce").dt.strftime(
                "%Y-%m-%d"
            ),
            "cm_gest_do": _organisations(tables, new["operator"].fillna(""), table,
                                         "cm_gest_do", gaps),
            "cm_prop_do": _organisations(tables, new["owner"].fillna(""), table,
                                         "cm_prop_do", gaps),
        }  # fmt: skip
        gaps.add("t_cheminement", "(effectif de fibres)", "porté par les câbles (t_cable), que"
                 " le registre ne connaît pas", int(new["fibre_count"].notna().sum()))  # fmt: skip
    frame = pd.DataFrame({k: pd.Series(v, index=new.index).astype(object) for k, v in data.items()})
    frame = frame.where(frame.notna(), None).reset_index(drop=True)
    _count_unknown(table, frame, gaps)
    frame["geometry"] = new.geometry.to_numpy(dtype=object)
    return frame


def _count_unknown(table: str, frame: pd.DataFrame, gaps: ExportGaps) -> None:
    """Count, per field the grid makes mandatory at some phase, the rows left empty."""
    for item in std.fields()[table]:
        first = _first(table, item.name)
        if item.is_geometry or not first:
            continue
        empty = int(frame[item.name].isna().sum()) if item.name in frame else len(frame)
        gaps.add(table, item.name, f"inconnu du registre (obligatoire dès {first})", empty)


def _first(table: str, name: str) -> str:
    """The first phase at which ``name`` is mandatory (``""``: never)."""
    return next(
        (p for p in std.PHASES if std.obligation(std.DEFAULT_NETWORK, table, name, p) == "O"), ""
    )


def references(table: str) -> list[std.Field]:
    """The fields of ``table`` referencing another table of the model."""
    return [f for f in std.fields()[table] if f.ref_table.startswith("t_") and f.ref_table != table]


@cache
def reference_order() -> tuple[str, ...]:
    """The tables, each after every table it references."""
    graph = nx.DiGraph()
    for table in std.fields():
        graph.add_node(table)
        graph.add_edges_from((f.ref_table, table) for f in references(table))
    return tuple(nx.lexicographical_topological_sort(graph))


def close_references(tables: dict[str, pd.DataFrame], gaps: ExportGaps) -> dict[str, pd.DataFrame]:
    """Every reference resolved: a row whose mandatory reference is gone is left out (and what
    depends on it, in turn); an optional reference to a missing row is emptied.

    Tables are visited targets first, so one pass reaches the closure.
    """
    out = dict(tables)
    for table in reference_order():
        frame = out.get(table)
        if frame is None or not len(frame):
            continue
        keep = np.ones(len(frame), dtype=bool)
        frame = frame.copy()
        for item in references(table):
            target = out.get(item.ref_table)
            if item.name not in frame:
                continue
            present = set() if target is None else set(_text(target, item.ref_field)) - {""}
            values = _text(frame, item.name)
            dangling = (values != "") & ~values.isin(present)
            if item.not_null:
                lost = keep & dangling.to_numpy()
                keep &= ~lost
                why = f"{item.name} : {item.ref_table} absent"
                gaps.left_out[(table, why)] += int(lost.sum())
            else:
                frame[item.name] = frame[item.name].astype(object).where(~dangling, None)
                gaps.add(table, item.name, f"référence à un {item.ref_table} non exporté vidée",
                         int(dangling.sum()))  # fmt: skip
        out[table] = frame[keep].reset_index(drop=True)
    return out
