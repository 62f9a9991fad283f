"""French wording of numbers, dates and data versions on maps (one place for all builders).

Numbers: thousands grouped by a narrow no-break space (U+202F), decimal comma, as the
French typographic convention (and Chromium's ``toLocaleString("fr-FR")``) writes them.
Dates: Europe/Paris local time, never UTC.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from recor.registry.model import RegistryVersion

__all__ = ["NNBSP", "km_fr", "number_fr", "paris_time", "version_fr"]

#: Narrow no-break space: the French thousands separator.
NNBSP = "\u202f"


def number_fr(value: float | int | None, decimals: int = 0, *, unknown: str = "inconnu") -> str:
    """``12 345`` / ``1 234,5``: French grouping and decimal comma; None reads ``unknown``."""
    if value is None or value != value:  # NaN is unknown, not a number
        return unknown
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def paris_time(moment: datetime, *, seconds: bool = False) -> str:
    """``28/11/2026 à 15:03``: the local time in Paris (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(ZoneInfo("Europe/Paris"))
    return f"{local:%d/%m/%Y à %H:%M:%S}" if seconds else f"{local:%d/%m/%Y à %H:%M}"


def version_fr(version: RegistryVersion) -> str:
    """The data version as a French reader says it.

    ``lot d'import 12 du 28/11/2026 à 15:03 (heure de Paris)``, followed by
    ``, état du registre au 01/10/2026 à 23:59`` for a registry read at a past time.
    """
    if version.batch_id is None:
        text = "registre vide"
    else:
        when = paris_time(version.loaded_at) if version.loaded_at else "date inconnue"
        text = f"lot d'import {version.batch_id} du {when} (heure de Paris)"
    if version.as_of is not None:
        text += f", état du registre au {paris_time(version.as_of)}"
    return text


def km_fr(value: float) -> str:
    """A distance setting as French text: ``1``, ``2,5`` (shortest form, decimal comma)."""
    return f"{value:g}".replace(".", ",")
