"""Findings: what an import noticed, one row per (rule, file, feature, field).

Findings are gathered as data frames so that a check over a million features adds its
findings in one vectorised step. Columns: :data:`FINDING_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from recor.ingest.rules import Severity, rule

__all__ = ["FINDING_COLUMNS", "Findings", "describe_finding"]

#: ``feature`` is the feature's index in its file (the FID of a shapefile, from 0), -1 when
#: the finding concerns the whole file or field; ``code`` is the feature's code when known;
#: ``check`` is the matching GraceTHD-Check code (e.g. ``cm_avct_1_r00423``) when there is one.
FINDING_COLUMNS: tuple[str, ...] = (
    "severity",
    "rule",
    "file",
    "feature",
    "code",
    "field",
    "value",
    "message",
    "check",
)


def _text(values: object, length: int) -> pd.Series:
    if isinstance(values, pd.Series):
        values = values.astype(object)  # a GeoSeries' notna() would warn about empty geometries
        return values.where(values.notna(), "").astype(str).reset_index(drop=True)
    return pd.Series([str(values)] * length, dtype=str)


class Findings:
    """A growing collection of findings."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(
        self,
        rule_id: str,
        message: str,
        *,
        file: str = "",
        feature: int = -1,
        code: str = "",
        field: str = "",
        value: object = "",
        severity: Severity | None = None,
        check: str = "",
    ) -> None:
        """Add one finding."""
        self.add_frame(
            pd.DataFrame(
                {
                    "severity": [str(severity or rule(rule_id).severity)],
                    "rule": [rule_id],
                    "file": [file],
                    "feature": [int(feature)],
                    "code": [str(code)],
                    "field": [field],
                    "value": [_short(value)],
                    "message": [message],
                    "check": [check],
                }
            )
        )

    def add_rows(
        self,
        frame: pd.DataFrame,
        mask: Iterable[bool] | np.ndarray | pd.Series,
        rule_id: str,
        message: str | pd.Series,
        *,
        field: str = "",
        values: pd.Series | str | None = None,
        severity: Severity | None = None,
        check: str = "",
    ) -> int:
        """Add one finding per selected row of ``frame``; returns how many were added.

        ``frame`` carries the provenance columns ``_file`` and ``_feature`` and, when
        known, ``code``. ``message`` and ``values`` may be series aligned with ``frame``.
        """
        selected = np.asarray(mask, dtype=bool)
        count = int(selected.sum())
        if count == 0:
            return 0
        rows = frame.loc[selected]
        if values is None:
            values = rows[field] if field in rows.columns else ""
        elif isinstance(values, pd.Series):
            values = values.loc[selected]
        if isinstance(message, pd.Series):
            message = message.loc[selected]
        code = rows["code"] if "code" in rows.columns else ""
        part = pd.DataFrame(
            {
                "severity": str(severity or rule(rule_id).severity),
                "rule": rule_id,
                "file": _text(rows["_file"], count),
                "feature": rows["_feature"].to_numpy(dtype=np.int64),
                "code": _text(code, count),
                "field": field,
                "value": _text(values, count).str.slice(0, 200),
                "message": _text(message, count),
                "check": check,
            }
        )
        self.add_frame(part)
        return count

    def add_frame(self, part: pd.DataFrame) -> None:
        """Add findings already shaped as :data:`FINDING_COLUMNS`."""
        if len(part):
            part = part if "check" in part.columns else part.assign(check="")
            self._parts.append(part.loc[:, list(FINDING_COLUMNS)])

    def extend(self, other: Findings) -> None:
        """Add every finding of ``other``."""
        self._parts.extend(other._parts)

    def frame(self) -> pd.DataFrame:
        """All findings, errors first, in a stable order."""
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})
        out = pd.concat(self._parts, ignore_index=True)
        # file-level findings repeat once per chunk of a large layer: keep one
        repeated = (out["feature"] < 0) & out.duplicated(keep="first")
        out = out.loc[~repeated]
        order = out["severity"].map({"error": 0, "warning": 1, "info": 2})
        out = out.assign(_order=order).sort_values(
            ["_order", "rule", "file", "feature"], kind="stable"
        )
        return out.drop(columns="_order").reset_index(drop=True)

    def count(self, severity: Severity | str) -> int:
        """How many findings of one severity."""
        return int(sum((p["severity"] == str(severity)).sum() for p in self._parts))

    @property
    def has_errors(self) -> bool:
        """True when at least one finding blocks the load."""
        return self.count(Severity.ERROR) > 0


def _short(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)[:200]


def describe_finding(row: pd.Series | dict) -> str:
    """One line naming file, feature, code and field, e.g. for the CLI and ImportRefused."""
    where = str(row["file"])
    if int(row["feature"]) >= 0:
        where += f" entité {int(row['feature'])}"
        if row["code"]:
            where += f" (code={row['code']})"
    if row["field"]:
        where += f", champ {row['field']}"
    value = f" valeur {row['value']!r}" if row["value"] else ""
    check = row.get("check", "") if hasattr(row, "get") else ""
    rule_id = f"{row['rule']} / GraceTHD-Check {check}" if check else row["rule"]
    return f"[{rule_id}] {where}:{value} {row['message']}"
