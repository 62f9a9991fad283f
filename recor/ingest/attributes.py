"""Attribute checks on mapped layers: required fields, ranges, enumerations, duplicate codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recor.ingest.findings import Findings
from recor.ingest.mapping import ENUMS

__all__ = ["check_attributes", "check_codes_against_registry"]

_INT32_MAX = 2**31 - 1
_REQUIRED = {
    "sites": ("code",),
    "segments": ("code",),
    "risk_groups": ("code",),
    "segment_risk_groups": ("segment_code", "risk_group_code"),
}


def check_attributes(frame: pd.DataFrame, entity: str, findings: Findings) -> None:
    """Add findings for every attribute of ``frame`` the registry would refuse.

    ``frame`` is a mapped layer (or several layers of one entity concatenated), with its
    provenance columns.
    """
    for column in _REQUIRED[entity]:
        blank = _blank(frame[column])
        findings.add_rows(frame, blank, "ATTR-REQUIRED", "valeur obligatoire", field=column)
    for (kind, column), allowed in ENUMS.items():
        if kind != entity or column not in frame:
            continue
        wrong = ~frame[column].isin(allowed)
        findings.add_rows(
            frame, wrong.to_numpy(), "ATTR-ENUM",
            f"valeur non reconnue ; attendu l'une de : {', '.join(allowed)}", field=column,
        )  # fmt: skip
    if entity == "segments":
        _check_fibres(frame, findings)
    if entity != "segment_risk_groups":
        _check_duplicates(frame, findings)


def _blank(values: pd.Series) -> np.ndarray:
    """Per value: missing, or nothing but white space once written as text.

    ``values.isna() | (values.astype(str).str.strip() == "")``, without a text copy of the
    column when its values are texts already (the usual case: codes).
    """
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=True) not in {"string", "empty"}:
        return (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    blank = pd.isna(cells)
    present = np.flatnonzero(~blank)
    blank[present] = [not text.strip() for text in cells[present]]
    return blank


def _check_fibres(frame: pd.DataFrame, findings: Findings) -> None:
    count = frame["fibre_count"].astype("Float64")
    used = frame["fibres_used"].astype("Float64")
    for column, values in (("fibre_count", count), ("fibres_used", used)):
        negative = (values < 0).fillna(False).to_numpy(dtype=bool)
        findings.add_rows(frame, negative, "ATTR-RANGE", "nombre de fibres négatif", field=column)
        # the registry's columns are 32-bit integers: a larger value would be stored wrapped
        huge = (values > _INT32_MAX).fillna(False).to_numpy(dtype=bool)
        if huge.any():  # texts are built for the rows reported only
            message = f"nombre de fibres au-delà de {_INT32_MAX:,} (entier 32 bits)"
            findings.add_rows(
                frame, huge, "ATTR-RANGE", message, field=column, values=values.astype(str)
            )
    over = (used > count).fillna(False).to_numpy(dtype=bool)
    if over.any():
        message = pd.Series("", index=frame.index, dtype=object)
        message[over] = (
            "fibres utilisées (" + used[over].astype(str) + ") > capacité ("
            + count[over].astype(str) + ")"
        )  # fmt: skip
        findings.add_rows(frame, over, "ATTR-FIBRES-USED", message, field="fibres_used")


def _check_duplicates(frame: pd.DataFrame, findings: Findings) -> None:
    codes = frame["code"]
    present = codes.notna() & (codes != "")
    dup = codes.duplicated(keep=False) & present
    if not dup.any():
        return
    # Each occurrence names another one: the first names the second, the others the first
    # (file and feature taken from the same row, across files too).
    rows = frame.loc[dup, ["code", "_file", "_feature"]]
    rank = rows.groupby("code", sort=False).cumcount()
    first = rows[rank == 0].set_index("code")
    second = rows[rank == 1].set_index("code")
    other = rows["code"].map(second["_feature"].astype(str) + " de " + second["_file"])
    other[rank > 0] = rows["code"].map(first["_feature"].astype(str) + " de " + first["_file"])
    message = pd.Series("", index=frame.index, dtype=object)
    message[dup] = "code également utilisé par l'entité " + other
    findings.add_rows(frame, dup.to_numpy(), "ATTR-CODE-DUP", message, field="code")


def check_codes_against_registry(
    frame: pd.DataFrame, registry: pd.DataFrame, findings: Findings
) -> None:
    """Warn when a delivered code already belongs to a registry row of another source.

    The load will update that row (codes are the merge key); the warning lets staff see a
    contractor overwriting another source's asset.
    """
    if registry is None or not len(registry) or not len(frame):
        return
    owner = pd.Series(registry["source"].to_numpy(), index=registry["code"].to_numpy())
    owner = owner[~owner.index.duplicated()]
    theirs = frame["code"].map(owner)
    clash = theirs.notna() & (theirs != frame["source"])
    if not clash.any():
        return
    message = pd.Series("", index=frame.index, dtype=object)
    said = "le registre a déjà ce code pour la source « "
    message[clash] = said + theirs[clash].astype(str) + " »"
    findings.add_rows(
        frame, np.asarray(clash, dtype=bool), "ATTR-CODE-REGISTRY", message, field="code"
    )
