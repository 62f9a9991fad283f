"""Import reports for staff: HTML in French, grouped by rule, and CSV (one finding a row)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from recor.ingest.findings import FINDING_COLUMNS
from recor.ingest.rules import RULES, SEVERITY_LABELS_FR
from recor.outputs import safe_table

__all__ = ["render_html", "write_csv", "write_html"]

_ROWS_PER_RULE = 500
_FILES_SHOWN = 10
_COUNT_LABELS = {
    "added": "ajoutés",
    "changed": "modifiés",
    "unchanged": "inchangés",
    "retired": "retirés",
}
_ENTITY_LABELS = {
    "sites": "Sites",
    "segments": "Tronçons",
    "risk_groups": "Groupes de risque",
    "risk_links": "Liens tronçon–risque",
}
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#eee}.error{color:#b00020}.warning{color:#a65e00}
.info{color:#555}.verdict{font-size:1.2em;font-weight:bold}code{font-size:.95em}
"""


def render_html(
    findings: pd.DataFrame,
    *,
    title: str,
    verdict: str,
    counts: dict[str, dict[str, int]] | None = None,
    files: list[dict] | None = None,
    diff_map: str = "",
    retired: dict[str, list[str]] | None = None,
) -> str:
    """The report as an HTML page (every value escaped: deliveries are untrusted text).

    ``diff_map`` is an SVG from :func:`recor.ingest.diffmap.diff_map_svg`, shown as is;
    ``retired`` lists the codes retired per entity (``--replace-scope``), which the map of
    delivered segments cannot show.
    """
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='verdict'>{e(verdict)}</p>",
        f"<p>Rapport généré le {datetime.now(UTC):%d/%m/%Y à %H:%M} UTC.</p>",
    ]
    if files:
        parts.append("<h2>Fichiers livrés</h2>")
        # A GraceTHD delivery has ~80 files: folded, so the effect and map stay in view
        folded = len(files) > _FILES_SHOWN
        if folded:
            total = f"{sum(int(f['size']) for f in files):,}".replace(",", "\u202f")
            parts.append(f"<details><summary>{len(files)} fichiers, {total} octets</summary>")
        parts.append("<table><tr><th>Fichier</th><th>Taille (octets)</th><th>SHA-256</th></tr>")
        for f in files:
            parts.append(
                f"<tr><td>{e(str(f['path']))}</td><td>{int(f['size'])}</td>"
                f"<td><code>{e(str(f['sha256']))}</code></td></tr>"
            )
        parts.append("</table></details>" if folded else "</table>")
    if counts:
        parts.append("<h2>Effet sur le registre</h2><table><tr><th></th>")
        parts.extend(f"<th>{label}</th>" for label in _COUNT_LABELS.values())
        parts.append("</tr>")
        for entity, values in counts.items():
            parts.append(f"<tr><th>{e(_ENTITY_LABELS.get(entity, entity))}</th>")
            parts.extend(f"<td>{int(values.get(k, 0))}</td>" for k in _COUNT_LABELS)
            parts.append("</tr>")
        parts.append("</table>")
    if retired and any(retired.values()):
        parts.append(_retired_table(retired))
    if diff_map:
        parts.append("<h2>Carte des tronçons livrés</h2>")
        parts.append(diff_map)
    parts.append(_summary_table(findings))
    for rule_id, group in findings.groupby("rule", sort=False):
        parts.append(_rule_section(str(rule_id), group))
    parts.append("</body></html>")
    return "\n".join(parts)


def _retired_table(retired: dict[str, list[str]]) -> str:
    e = html.escape
    rows = ["<h2>Retirés du registre</h2><p>Absents de la livraison dans le périmètre "
            "--replace-scope :</p><table><tr><th></th><th>Codes</th></tr>"]  # fmt: skip
    for entity, codes in retired.items():
        if not codes:
            continue
        shown = ", ".join(e(str(c)) for c in codes[:_ROWS_PER_RULE])
        more = f" … et {len(codes) - _ROWS_PER_RULE} autres" if len(codes) > _ROWS_PER_RULE else ""
        rows.append(
            f"<tr><th>{e(_ENTITY_LABELS.get(entity, entity))}</th><td>{shown}{more}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _summary_table(findings: pd.DataFrame) -> str:
    e = html.escape
    if not len(findings):
        return "<h2>Constats</h2><p>Aucun constat : la livraison est conforme.</p>"
    rows = ["<h2>Constats par règle</h2><table><tr><th>Gravité</th><th>Règle</th>"
            "<th>Description</th><th>Nombre</th></tr>"]  # fmt: skip
    counts = findings.groupby(["severity", "rule"], sort=False).size()
    for (severity, rule_id), n in counts.items():
        title = RULES[rule_id].title_fr if rule_id in RULES else rule_id
        rows.append(
            f"<tr class='{e(severity)}'><td>{e(SEVERITY_LABELS_FR.get(severity, severity))}</td>"
            f"<td><a href='#{e(rule_id)}'>{e(rule_id)}</a></td><td>{e(title)}</td><td>{n}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _rule_section(rule_id: str, group: pd.DataFrame) -> str:
    e = html.escape
    title = RULES[rule_id].title_fr if rule_id in RULES else rule_id
    severity = str(group["severity"].iloc[0])
    out = [
        f"<h3 id='{e(rule_id)}' class='{e(severity)}'>"
        f"{e(rule_id)} — {e(title)} ({len(group)})</h3>",
        "<table><tr><th>Fichier</th><th>Entité</th><th>Code</th><th>Champ</th><th>Valeur</th>"
        "<th>Message</th></tr>",
    ]
    for row in group.head(_ROWS_PER_RULE).itertuples(index=False):
        feature = "—" if int(row.feature) < 0 else str(int(row.feature))
        out.append(
            f"<tr><td>{e(str(row.file))}</td><td>{feature}</td><td>{e(str(row.code))}</td>"
            f"<td>{e(str(row.field))}</td><td>{e(str(row.value))}</td><td>{e(str(row.message))}{_check(row)}</td></tr>"
        )
    out.append("</table>")
    if len(group) > _ROWS_PER_RULE:
        out.append(f"<p>… et {len(group) - _ROWS_PER_RULE} autres (voir le rapport CSV).</p>")
    return "".join(out)


def _check(row: object) -> str:
    code = str(getattr(row, "check", "") or "")
    return f" <small>(GraceTHD-Check {html.escape(code)})</small>" if code else ""


def write_html(path: str | Path, findings: pd.DataFrame, **kwargs: object) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8)."""
    target = Path(path)
    target.write_text(render_html(findings, **kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return target


def write_csv(path: str | Path, findings: pd.DataFrame) -> Path:
    """Write the findings as CSV (UTF-8 with BOM, ``;``-separated: opens cleanly in Excel FR).

    Formula-like cells are neutralised (:func:`recor.outputs.safe_table`).
    """
    target = Path(path)
    safe_table(findings.loc[:, list(FINDING_COLUMNS)]).to_csv(
        target, sep=";", index=False, encoding="utf-8-sig"
    )
    return target
