"""Survey import: read deliveries, map them with a profile, check them, load them whole.

Readers (Shapefile file/folder/zip, GeoPackage, GeoJSON, CSV WKT/XY, GraceTHD v2), YAML
mapping profiles, geometry/attribute/topology/GraceTHD checks producing findings (severity,
rule, file, feature, field, value, message), French HTML and CSV reports, and the
orchestration handing a :class:`~recor.registry.Delivery` to :func:`recor.registry.load_delivery`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recor._lazy import lazy_exports

if TYPE_CHECKING:
    from recor.ingest.findings import FINDING_COLUMNS, Findings, describe_finding
    from recor.ingest.pipeline import ImportResult, PreparedImport, import_paths, prepare_import
    from recor.ingest.profiles import Profile, builtin_profiles, load_profile
    from recor.ingest.report import render_html, write_csv, write_html
    from recor.ingest.rules import RULES, Rule, Severity

__all__ = [
    "FINDING_COLUMNS",
    "RULES",
    "Findings",
    "ImportResult",
    "PreparedImport",
    "Profile",
    "Rule",
    "Severity",
    "builtin_profiles",
    "describe_finding",
    "import_paths",
    "load_profile",
    "prepare_import",
    "render_html",
    "write_csv",
    "write_html",
]

#: The module defining each public name, imported on first use (see :mod:`recor._lazy`):
#: importing one module of the package, e.g. the rules, does not import every reader.
_EXPORTS = {
    "FINDING_COLUMNS": "findings", "Findings": "findings", "describe_finding": "findings",
    "ImportResult": "pipeline", "PreparedImport": "pipeline", "import_paths": "pipeline",
    "prepare_import": "pipeline",
    "Profile": "profiles", "builtin_profiles": "profiles", "load_profile": "profiles",
    "render_html": "report", "write_csv": "report", "write_html": "report",
    "RULES": "rules", "Rule": "rules", "Severity": "rules",
}  # fmt: skip

__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
