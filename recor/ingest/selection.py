"""Which delivered layers and rows a profile takes: ``--layer``, rules by name, ``where:``.

Also the checks that a layer has the columns its rule names: a missing column is one finding
for the layer (naming profile, rule, layer and column), never one per feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from recor.ingest.findings import Findings
from recor.ingest.mapping import source_column
from recor.ingest.profiles import LayerRule, Profile, RowFilter
from recor.ingest.sources import LayerSource

__all__ = ["check_columns", "filter_rows", "select_layers"]

#: Fields whose source column must exist (every feature needs a value).
_ALWAYS_REQUIRED = {
    "sites": {"code"},
    "segments": {"code"},
    "risk_groups": {"code"},
    "segment_risk_groups": {"segment_code", "risk_group_code"},
}


def select_layers(
    layers: list[LayerSource], names: Sequence[str], findings: Findings, delivered: str
) -> list[LayerSource]:
    """The layers named by ``--layer`` (all when none is named); unknown names are errors.

    A name matches a GeoPackage layer name or a file stem, case-insensitively.
    """
    if not names:
        return layers
    wanted = {n.lower() for n in names}
    chosen = [s for s in layers if wanted & {s.name, (s.layer or "").lower()}]
    known = {s.name for s in layers} | {(s.layer or "").lower() for s in layers}
    available = ", ".join(sorted({s.layer or s.name for s in layers})) or "aucune"
    for name in names:
        if layers and name.lower() not in known:
            findings.add(
                "SRC-NOT-FOUND",
                f"couche « {name} » absente de la livraison (couches : {available})",
                file=delivered,
                field="--layer",
                value=name,
            )
    return chosen


def check_columns(
    frame: pd.DataFrame,
    rule: LayerRule,
    profile: Profile,
    findings: Findings,
    display: str,
    *,
    has_geometry: bool,
) -> bool:
    """Check that the layer has the columns the rule names; False when it cannot be read.

    A required column (``required: true``, the entity's codes, ``where:`` and CSV geometry
    columns) missing is one ``PROFILE-COLUMN-MISSING`` error and the layer is not imported;
    a column named with ``from:`` but absent is one ``PROFILE-COLUMN-ABSENT`` warning (the
    field stays unknown), unless the field is ``optional``.
    """
    columns = {c.lower(): c for c in frame.columns if not str(c).startswith("_")}
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    available = ", ".join(c for c in columns.values() if c != geometry) or "aucune"
    where = f"profil {profile.name} ({rule.label})"
    ok = True
    for field in rule.fields or ():
        if source_column(field, columns) is not None:
            continue
        needed = field.required or field.target in _ALWAYS_REQUIRED[rule.entity]
        if needed:
            ok = False
            findings.add(
                "PROFILE-COLUMN-MISSING",
                f"{where} : colonne {_names(field.sources)} absente de la couche, requise pour "
                f"« {field.target} » ; couche non importée (colonnes présentes : {available})",
                file=display, field=field.target, value=", ".join(field.sources),
            )  # fmt: skip
        elif field.explicit and not field.optional:
            findings.add(
                "PROFILE-COLUMN-ABSENT",
                f"{where} : colonne {_names(field.sources)} absente de la couche : "
                f"« {field.target} » reste inconnu (colonnes présentes : {available})",
                file=display, field=field.target, value=", ".join(field.sources),
            )  # fmt: skip
    for target in _ALWAYS_REQUIRED[rule.entity]:
        if rule.field(target) is None and target not in columns:
            ok = False
            findings.add(
                "PROFILE-COLUMN-MISSING",
                f"{where} : colonne « {target} » absente de la couche et non associée dans le "
                f"profil (fields.{target}.from) ; couche non importée (colonnes présentes : "
                f"{available})",
                file=display, field=target, value=target,
            )  # fmt: skip
    for condition in rule.where:
        if condition.column not in columns:
            ok = False
            findings.add(
                "PROFILE-COLUMN-MISSING",
                f"{where} : colonne « {condition.column} » du filtre where absente de la couche ; "
                f"couche non importée (colonnes présentes : {available})",
                file=display, field="where", value=condition.column,
            )  # fmt: skip
    if rule.csv_geometry is not None and rule.geometry != "none" and not has_geometry:
        ok = False
        names = rule.csv_geometry[1:]
        findings.add(
            "PROFILE-COLUMN-MISSING",
            f"{where} : colonne(s) de géométrie {_names(names)} (csv_geometry) absente(s) de la "
            f"couche ; couche non importée (colonnes présentes : {available})",
            file=display, field="csv_geometry", value=", ".join(names),
        )  # fmt: skip
    return ok


def _names(names: Sequence[str]) -> str:
    return " / ".join(f"« {n} »" for n in names)


def filter_rows(frame: pd.DataFrame, conditions: Sequence[RowFilter]) -> tuple[pd.DataFrame, int]:
    """The rows meeting every ``where:`` condition, and how many were left out.

    Values compare as trimmed, case-insensitive text; an empty value is neither in nor out
    of a list (it is only caught by ``empty``).
    """
    if not conditions or not len(frame):
        return frame, 0
    columns = {c.lower(): c for c in frame.columns}
    keep = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        raw = frame[columns[condition.column]]
        text = raw.astype(object).where(raw.notna(), None).map(_text, na_action="ignore")
        blank = text.isna() | (text == "")
        if condition.include is not None:
            keep &= text.isin(condition.include).to_numpy()
        if condition.exclude:
            keep &= ~text.isin(condition.exclude).to_numpy()
        if condition.empty is not None:
            keep &= (blank if condition.empty else ~blank).to_numpy()
    dropped = int((~keep).sum())
    return (frame if not dropped else frame.loc[keep]), dropped


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()
