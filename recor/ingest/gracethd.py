"""GraceTHD v2.0.1 deliveries → registry sites, segments and shared-risk groups.

Every one of the model's 33 tables is read (folder or zip) and checked
(:mod:`recor.ingest.gracethd_checks`, :mod:`recor.ingest.gracethd_geo`). ``t_noeud``
(+ ``t_sitetech``) become sites, ``t_cheminement`` segments joined by
``cm_ndcode1``/``cm_ndcode2``; cables (``t_cable``) reach the cheminements they run through
by ``t_cab_cond`` (cable → duct) and ``t_cond_chem`` (duct → cheminement), which gives each
segment its fibre count and used fibres; each duct over several cheminements becomes a
shared-risk group. Every delivered table is also returned whole (``gracethd_tables``), so
what the registry does not model is kept with the batch and can be written back.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from recor.config import STORAGE_CRS, ImportSettings
from recor.domain import RiskKind
from recor.ingest import gracethd_standard as std
from recor.ingest.findings import Findings
from recor.ingest.geometry import check_geometries
from recor.ingest.gracethd_checks import (
    WAIVED,
    CheckOptions,
    Draft,
    as_codes,
    check_gracethd_tables,
)
from recor.ingest.gracethd_geo import check_addresses, check_line_ends, check_zones
from recor.ingest.profiles import Profile
from recor.ingest.readers import read_layer, to_storage_crs
from recor.ingest.rules import Severity
from recor.ingest.sources import LayerSource

__all__ = ["read_gracethd", "read_gracethd_tables"]


def read_gracethd(
    layers: list[LayerSource],
    profile: Profile,
    findings: Findings,
    settings: ImportSettings,
    *,
    override: CRS | None = None,
) -> dict[str, list[pd.DataFrame]]:
    """Read, check and translate a GraceTHD v2 delivery into registry-vocabulary frames.

    Returns
    -------
    dict
        ``sites``, ``segments`` (with ``declared_length``), ``risk_groups`` and
        ``segment_risk_groups`` frames, each with provenance columns, as the generic
        readers produce them, and ``gracethd_tables``: one frame per delivered table.
    """
    tables = read_gracethd_tables(layers, findings, override)
    options = CheckOptions.from_profile(profile.options, findings)
    checked = Findings()
    check_gracethd_tables(tables, options, checked)
    check_line_ends(tables, options, checked, tolerance=settings.snap_tolerance_m)
    check_zones(tables, options, checked)
    check_addresses(tables, options, checked)
    findings.add_frame(_as_the_catalogue_says(checked.frame()))
    if options.draft is not None:
        _say_draft(options.draft, findings)
    kept = [_kept(name, frame) for name, frame in tables.items()]
    if not len(tables.get("t_noeud", ())) or "t_cheminement" not in tables:
        return {"gracethd_tables": kept}
    opts = profile.options
    segments = _segments(tables, opts)
    sites = _sites(tables, segments, opts, profile.source)
    segments["source"] = profile.source
    sites = check_geometries(sites, "point", findings, settings)
    segments = check_geometries(segments, "line", findings, settings)
    risk_groups, links = _risk_groups(tables, profile.source, findings)
    frames: dict[str, list[pd.DataFrame]] = {
        "sites": [sites], "segments": [segments], "gracethd_tables": kept,
    }  # fmt: skip
    if risk_groups is not None:
        frames["risk_groups"] = [risk_groups]
        frames["segment_risk_groups"] = [links]
    return frames


def _as_the_catalogue_says(found: pd.DataFrame) -> pd.DataFrame:
    """Errors whose GraceTHD-Check check is « Informatif » (sensitivity 4) become warnings."""
    level = found["check"].map(lambda code: std.check_sensitivity(code) if code else "")
    informative = (found["severity"] == str(Severity.ERROR)) & (level == "4")
    if informative.any():
        label = std.sensitivity_label("4")
        found.loc[informative, "severity"] = str(Severity.WARNING)
        found.loc[informative, "message"] += f" — sensibilité GraceTHD-Check 4 « {label} »"
    return found


def _say_draft(draft: Draft, findings: Findings) -> None:
    """One ``GTHD-DRAFT`` finding: accepted as a draft, why, and how many findings waived."""
    found = findings.frame()
    waived = found[found["message"].str.endswith(WAIVED)]
    per_rule = ", ".join(f"{rule} {n}" for rule, n in waived["rule"].value_counts().items())
    findings.add(
        "GTHD-DRAFT",
        f"livraison acceptée en brouillon ({draft.reason}) : {len(waived)} constat(s) dérogé(s)"
        + (f" ({per_rule}), valeurs laissées inconnues" if len(waived) else ""),
        field="gracethd_draft", value=len(waived),
        severity=Severity.WARNING if len(waived) else Severity.INFO,
    )  # fmt: skip


def read_gracethd_tables(
    layers: list[LayerSource], findings: Findings, override: CRS | None = None
) -> dict[str, pd.DataFrame]:
    """Every delivered table of the model, by name (empty tables included).

    Spatial tables are in EPSG:2154 with their geometry in ``geometry``; CSV values are
    text with empty cells as None; each frame has provenance (``_file``, ``_feature``) and
    ``code`` (its identifier, or both keys of a link table joined by ``/``).
    """
    known = set(std.tables())
    tables: dict[str, pd.DataFrame] = {}
    for source in layers:
        if source.name not in known:
            if not source.name.startswith("l_"):
                findings.add(
                    "SRC-LAYER-IGNORED", "fichier hors du modèle GraceTHD v2.0.1",
                    file=source.display,
                )  # fmt: skip
            continue
        raw = read_layer(source, findings, allow_empty=True)
        if raw is None:
            continue
        frame = raw.frame
        if any(f.is_geometry for f in std.fields()[source.name]):
            if not raw.has_geometry:
                findings.add("GEOM-NULL", "table sans géométrie", file=source.display)
                continue
            frame = to_storage_crs(raw, findings, override=override)
            if frame is None:
                continue
            frame = (
                frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
            )
        if source.kind == "csv":
            frame = frame.replace("", None)
        tables[source.name] = frame.assign(code=_codes(source.name, frame))
    return tables


def _codes(table: str, frame: pd.DataFrame) -> pd.Series:
    key = std.identifier(table)
    keys = [key] if key else [f.name for f in std.fields()[table] if f.primary_key]
    if not all(k in frame for k in keys):
        return pd.Series("", index=frame.index, dtype=object)
    parts = [as_codes(frame[k]).fillna("") for k in keys]
    out = parts[0]
    for part in parts[1:]:
        out = out + "/" + part
    return out.astype(object)


def _kept(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A delivered table as kept with the batch: model fields as delivered, geometry."""
    columns = [c for c in frame.columns if c not in {"code", "_file", "_feature"}]
    out = pd.DataFrame(frame[columns]).copy()
    out.attrs["table"] = name
    return out


def _status(frame: pd.DataFrame, avct: str, statut: str, opts: dict, default: str) -> pd.Series:
    by_avct = frame[avct].map(opts.get("status_avct", {})) if avct in frame else None
    by_statut = frame[statut].map(opts.get("status_statut", {})) if statut in frame else None
    out = pd.Series(default, index=frame.index, dtype=object)
    if by_statut is not None:
        out = by_statut.where(by_statut.notna(), out)
    if by_avct is not None:
        out = by_avct.where(by_avct.notna(), out)
    return out.astype(object)


def _fill(series: pd.Series, value: object) -> pd.Series:
    return series.astype(object).where(series.notna(), value)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return as_codes(frame[column]).where(frame[column].notna(), "").astype(object)


def _extra(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    present = [c for c in columns if c in frame]
    if not present:
        return [{} for _ in range(len(frame))]
    values = frame[present].astype(object).where(frame[present].notna(), None)
    return [
        {k: v for k, v in row.items() if v not in (None, "")} for row in values.to_dict("records")
    ]


def _segments(tables: dict[str, pd.DataFrame], opts: dict) -> gpd.GeoDataFrame:
    paths = tables["t_cheminement"]
    fibres = _cable_fibres(tables)
    declared = pd.to_numeric(paths["cm_long"], errors="coerce") if "cm_long" in paths else None
    if "cm_lgreel" in paths:
        real = pd.to_numeric(paths["cm_lgreel"], errors="coerce")
        declared = real if declared is None else real.where(real.notna() & (real > 0), declared)
    dates = pd.to_datetime(paths["cm_datemes"], errors="coerce") if "cm_datemes" in paths else None
    frame = pd.DataFrame(
        {
            "code": paths["cm_code"].astype(object),
            "site_a": paths["cm_ndcode1"].astype(object),
            "site_b": paths["cm_ndcode2"].astype(object),
            "fibre_count": paths["cm_code"].map(fibres["fibre_count"]).astype("Int64"),
            "fibres_used": paths["cm_code"].map(fibres["fibres_used"]).astype("Int64"),
            "cable_type": _fill(paths["cm_code"].map(fibres["cable_type"]), ""),
            "installation": _fill(
                _text(paths, "cm_typ_imp").map(opts.get("installation_typ_imp", {})), "other"
            ),
            "status": _status(paths, "cm_avct", "cm_statut", opts, "in_service"),
            "owner": _text(paths, "cm_prop_do"),
            "operator": _text(paths, "cm_gest_do"),
            "commissioned_on": [d.date() if pd.notna(d) else None for d in dates]
            if dates is not None
            else None,
            "source": "",
            "extra": _extra(paths, ["cm_codeext", "cm_statut", "cm_avct", "cm_typelog", "cm_compo",
                                    "cm_long", "cm_lgreel", "cm_nature", "cm_mod_pos"]),
            "declared_length": np.nan if declared is None else declared.to_numpy(dtype=float),
            "_file": paths["_file"].to_numpy(),
            "_feature": paths["_feature"].to_numpy(),
        },
        index=paths.index,
    )  # fmt: skip
    return gpd.GeoDataFrame(frame, geometry=paths.geometry.to_numpy(), crs=STORAGE_CRS)


def _cable_fibres(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per cheminement code: total and used fibres of the cables in its ducts."""
    empty = pd.DataFrame(columns=["fibre_count", "fibres_used", "cable_type"])
    needed = {
        "t_cable": {"cb_code", "cb_capafo", "cb_fo_util"},
        "t_cab_cond": {"cc_cb_code", "cc_cd_code"},
        "t_cond_chem": {"dm_cd_code", "dm_cm_code"},
    }  # a missing column is reported by the GraceTHD checks (GTHD-FIELD-REQUIRED)
    if not all(t in tables and len(tables[t]) and c <= set(tables[t]) for t, c in needed.items()):
        return empty
    cables = tables["t_cable"][["cb_code", "cb_capafo", "cb_fo_util"]].copy()
    cables["cb_capafo"] = pd.to_numeric(cables["cb_capafo"], errors="coerce")
    cables["cb_fo_util"] = pd.to_numeric(cables["cb_fo_util"], errors="coerce")
    runs = (
        tables["t_cab_cond"][["cc_cb_code", "cc_cd_code"]]
        .merge(
            tables["t_cond_chem"][["dm_cd_code", "dm_cm_code"]],
            left_on="cc_cd_code",
            right_on="dm_cd_code",
        )[["cc_cb_code", "dm_cm_code"]]
        .drop_duplicates()
    )
    runs = runs.merge(cables, left_on="cc_cb_code", right_on="cb_code")
    grouped = runs.groupby("dm_cm_code")
    out = pd.DataFrame(
        {
            # one cable of unknown capacity makes the segment's capacity unknown, not smaller
            "fibre_count": grouped["cb_capafo"].agg(_known_sum),
            "fibres_used": grouped["cb_fo_util"].agg(_known_sum),
            "cable_type": grouped["cb_code"].agg(lambda codes: ", ".join(sorted(codes))),
        }
    )
    return out


def _known_sum(values: pd.Series) -> float:
    return float(values.sum()) if values.notna().all() else np.nan


def _sites(
    tables: dict[str, pd.DataFrame], segments: pd.DataFrame, opts: dict, source: str
) -> gpd.GeoDataFrame:
    nodes = tables["t_noeud"]
    used = set(segments["site_a"].dropna()) | set(segments["site_b"].dropna())
    tech = tables.get("t_sitetech")
    by_node = (
        tech.drop_duplicates("st_nd_code").set_index("st_nd_code")
        if tech is not None and "st_nd_code" in tech
        else None
    )
    if by_node is not None:
        used |= set(by_node.index.dropna())
    nodes = nodes[nodes["nd_code"].isin(used)]
    kind = _fill(_text(nodes, "nd_type").map(opts.get("site_kind_nd_type", {})), "other")
    name = _text(nodes, "nd_nom")
    status = pd.Series(
        opts.get("default_site_status", "in_service"), index=nodes.index, dtype=object
    )
    operator = pd.Series("", index=nodes.index, dtype=object)
    extra = _extra(nodes, ["nd_codeext", "nd_type", "nd_type_ep", "nd_r1_code", "nd_r2_code"])
    if by_node is not None:
        st = by_node.reindex(nodes["nd_code"]).set_index(nodes.index)
        has = st["st_code"].notna()
        kind = kind.where(
            ~has, _fill(_text(st, "st_typelog").map(opts.get("site_kind_typelog", {})), "other")
        )
        name = name.where(~has | (_text(st, "st_nom") == ""), _text(st, "st_nom"))
        status = status.where(
            ~has,
            _status(
                st,
                "st_avct",
                "st_statut",
                opts,
                str(status.iloc[0]) if len(status) else "in_service",
            ),
        )
        operator = operator.where(~has, _text(st, "st_gest"))
        st_extra = _extra(st, ["st_code", "st_typelog", "st_typephy", "st_statut", "st_prop"])
        extra = [{**a, **b} for a, b in zip(extra, st_extra, strict=True)]
    frame = pd.DataFrame(
        {
            "code": nodes["nd_code"].astype(object),
            "name": name.astype(object),
            "kind": kind.astype(object),
            "operator": operator.astype(object),
            "status": status.astype(object),
            "source": source,
            "extra": extra,
            "_file": nodes["_file"].to_numpy(),
            "_feature": nodes["_feature"].to_numpy(),
        },
        index=nodes.index,
    )
    return gpd.GeoDataFrame(frame, geometry=nodes.geometry.to_numpy(), crs=STORAGE_CRS).reset_index(
        drop=True
    )


def _risk_groups(
    tables: dict[str, pd.DataFrame], source: str, findings: Findings
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """One duct risk group per conduite running through two or more cheminements."""
    if "t_cond_chem" not in tables or "t_cheminement" not in tables:
        return None, None
    links = tables["t_cond_chem"][["dm_cd_code", "dm_cm_code", "_file", "_feature"]].dropna(
        subset=["dm_cd_code", "dm_cm_code"]
    )
    links = links[links["dm_cm_code"].isin(set(tables["t_cheminement"]["cm_code"]))]
    links = links.drop_duplicates(["dm_cd_code", "dm_cm_code"])
    shared = links.groupby("dm_cd_code")["dm_cm_code"].transform("size") >= 2
    links = links[shared]
    ducts = links.drop_duplicates("dm_cd_code")
    groups = pd.DataFrame(
        {
            "code": "CD:" + ducts["dm_cd_code"].astype(str),
            "kind": str(RiskKind.DUCT),
            "name": "Conduite " + ducts["dm_cd_code"].astype(str),
            "source": source,
            "extra": [{"cd_code": c} for c in ducts["dm_cd_code"]],
            "_file": ducts["_file"].to_numpy(),
            "_feature": ducts["_feature"].to_numpy(),
        }
    ).reset_index(drop=True)
    pairs = pd.DataFrame(
        {
            "segment_code": links["dm_cm_code"].astype(str).to_numpy(),
            "risk_group_code": ("CD:" + links["dm_cd_code"].astype(str)).to_numpy(),
            "_file": links["_file"].to_numpy(),
            "_feature": links["_feature"].to_numpy(),
        }
    )
    cables = tables.get("t_cable")
    if cables is not None and "cc_cb_code" in tables.get("t_cab_cond", ()):
        placed = set(tables["t_cab_cond"]["cc_cb_code"].dropna())
        lost = ~cables["cb_code"].isin(placed).to_numpy()
        findings.add_rows(
            cables, lost, "GTHD-CABLE-PATH",
            "câble sans conduite (t_cab_cond) : ses fibres ne sont comptées sur aucun tronçon",
            field="cb_code",
        )  # fmt: skip
    return groups, pairs
