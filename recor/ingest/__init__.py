"""Survey import: read deliveries, map them with a profile, check them, load them whole.

Readers (Shapefile file/folder/zip, GeoPackage, GeoJSON, CSV WKT/XY, GraceTHD v2), YAML
mapping profiles, geometry/attribute/topology/GraceTHD checks producing findings (severity,
rule, file, feature, field, value, message), French HTML and CSV reports, and the
orchestration handing a :class:`~recor.registry.Delivery` to :func:`recor.registry.load_delivery`.
"""

from __future__ import annotations

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
