"""recor: GIS asset registry and network analysis of the RECOR dark-fibre network."""

from __future__ import annotations

from recor.config import Settings
from recor.domain import Installation, RiskKind, SiteKind, Status

__all__ = ["Installation", "RiskKind", "Settings", "SiteKind", "Status", "__version__"]

__version__ = "0.1.0"
