"""Optical budget of a route: fibre attenuation, splices, connectors, margin."""

from __future__ import annotations

from recor.config import NetworkSettings
from recor.network.model import OpticalBudget, Route

__all__ = ["WAVELENGTHS_NM", "optical_budget"]

#: Wavelengths with a default attenuation in the settings.
WAVELENGTHS_NM = (1310, 1550)


def optical_budget(
    route: Route,
    *,
    wavelength_nm: int = 1550,
    budget_db: float | None = None,
    attenuation_db_per_km: float | None = None,
    splice_loss_db: float | None = None,
    connector_loss_db: float | None = None,
    connectors: int = 2,
    margin_db: float | None = None,
    settings: NetworkSettings | None = None,
) -> OpticalBudget:
    """Loss of a route and, given a transceiver budget, whether it passes.

    Parameters
    ----------
    route
        The route (its length and its joints: one splice at every intermediate site).
    wavelength_nm
        1310 or 1550 (default attenuations 0.35 and 0.25 dB/km), or any wavelength when
        ``attenuation_db_per_km`` is given.
    budget_db
        Transceiver power budget (dB); None: loss only, no verdict.
    attenuation_db_per_km, splice_loss_db, connector_loss_db, margin_db
        Override the settings.
    connectors
        Connectors on the path (one at each end by default).
    settings
        Optical defaults.

    Returns
    -------
    OpticalBudget
        ``passes`` when ``total_loss_db`` (margin included) fits in ``budget_db``.
    """
    settings = settings or NetworkSettings()
    if attenuation_db_per_km is None:
        if wavelength_nm not in WAVELENGTHS_NM:
            raise ValueError(
                f"no default attenuation at {wavelength_nm} nm (known: {WAVELENGTHS_NM}); "
                "pass attenuation_db_per_km"
            )
        attenuation_db_per_km = getattr(settings, f"attenuation_db_per_km_{wavelength_nm}")
    splice = settings.splice_loss_db if splice_loss_db is None else splice_loss_db
    connector = settings.connector_loss_db if connector_loss_db is None else connector_loss_db
    margin = settings.margin_db if margin_db is None else margin_db
    length_km = route.length_m / 1000.0
    fibre = length_km * attenuation_db_per_km
    splices = route.joints * splice
    connectors_db = connectors * connector
    total = fibre + splices + connectors_db + margin
    headroom = None if budget_db is None else budget_db - total
    return OpticalBudget(
        wavelength_nm=wavelength_nm,
        length_km=length_km,
        attenuation_db_per_km=attenuation_db_per_km,
        fibre_loss_db=fibre,
        joints=route.joints,
        splice_loss_db=splices,
        connector_loss_db=connectors_db,
        margin_db=margin,
        total_loss_db=total,
        budget_db=budget_db,
        headroom_db=headroom,
        passes=None if headroom is None else headroom >= 0,
        assumptions=_assumptions(route, connectors),
    )


def _assumptions(route: Route, connectors: int) -> tuple[str, ...]:
    """What the budget takes for granted where the registry records nothing."""
    return (
        f"length {route.length_m / 1000:.2f} km measured along the drawn segments"
        " (cable slack and loops are not recorded: the real fibre is longer)",
        f"{route.joints} splice(s), one at each intermediate site; splices inside segments"
        " are not recorded and not counted",
        f"{connectors} connector(s) (one at each end unless told otherwise)",
    )
