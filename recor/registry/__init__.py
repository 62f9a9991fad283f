"""The registry: the only layer that speaks SQL.

Connect, migrate, read sites and segments as GeoDataFrames (now or as of a past time),
load validated deliveries in one transaction, list batches, read history, undo a batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recor._lazy import lazy_exports

if TYPE_CHECKING:
    from recor.registry.connection import connect, describe_target, ensure_database
    from recor.registry.history import history, list_batches, undo_batch
    from recor.registry.migrate import applied_migrations, available_migrations, upgrade
    from recor.registry.model import (
        BatchInfo,
        Delivery,
        EntityCounts,
        LoadSummary,
        RegistryVersion,
        ReplaceScope,
        SourceFile,
    )
    from recor.registry.read import (
        read_codes,
        read_risk_groups,
        read_segments,
        read_sites,
        registry_generation,
        registry_version,
    )
    from recor.registry.reference import list_reference_layers, read_reference, write_reference
    from recor.registry.snapshot import RegistrySnapshot, snapshot
    from recor.registry.summary import RegistrySummary, summarise
    from recor.registry.write import load_delivery

__all__ = [
    "BatchInfo",
    "Delivery",
    "EntityCounts",
    "LoadSummary",
    "RegistrySnapshot",
    "RegistrySummary",
    "RegistryVersion",
    "ReplaceScope",
    "SourceFile",
    "applied_migrations",
    "available_migrations",
    "connect",
    "describe_target",
    "ensure_database",
    "history",
    "list_batches",
    "list_reference_layers",
    "load_delivery",
    "read_codes",
    "read_reference",
    "read_risk_groups",
    "read_segments",
    "read_sites",
    "registry_generation",
    "registry_version",
    "snapshot",
    "summarise",
    "undo_batch",
    "upgrade",
    "write_reference",
]

#: The module defining each public name: imported on first use (reading and loading need
#: pandas and geopandas, an undo or a summary does not; see :mod:`recor._lazy`).
_EXPORTS = {
    "connect": "connection", "describe_target": "connection", "ensure_database": "connection",
    "history": "history", "list_batches": "history", "undo_batch": "history",
    "applied_migrations": "migrate", "available_migrations": "migrate", "upgrade": "migrate",
    "BatchInfo": "model", "Delivery": "model", "EntityCounts": "model",
    "LoadSummary": "model", "RegistryVersion": "model", "ReplaceScope": "model",
    "SourceFile": "model",
    "read_codes": "read", "read_risk_groups": "read", "read_segments": "read",
    "read_sites": "read", "registry_generation": "version", "registry_version": "version",
    "list_reference_layers": "reference", "read_reference": "reference",
    "write_reference": "reference",
    "RegistrySnapshot": "snapshot", "snapshot": "snapshot",
    "RegistrySummary": "summary", "summarise": "summary",
    "load_delivery": "write",
}  # fmt: skip

__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
