"""The registry's vocabulary: enumerations and the column contract of its data frames.

Every layer speaks these words: readers map source fields onto them, the registry stores
them, analyses and maps read them. French labels live here too, once, for maps and reports.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DEPARTEMENTS",
    "INSTALLATION_LABELS_FR",
    "RISK_GROUP_COLUMNS",
    "RISK_KIND_LABELS_FR",
    "SEGMENT_COLUMNS",
    "SEGMENT_RISK_COLUMNS",
    "SHAPEFILE_FIELD_NAMES",
    "SITE_COLUMNS",
    "SITE_KIND_LABELS_FR",
    "STATUS_LABELS_FR",
    "Installation",
    "RiskKind",
    "SiteKind",
    "Status",
]


class SiteKind(StrEnum):
    """What a site is."""

    DATACENTRE = "datacentre"
    CHATON = "chaton"
    POP = "pop"
    JUNCTION = "junction"
    CHAMBER = "chamber"
    PUBLIC_SITE = "public_site"
    OTHER = "other"


class Status(StrEnum):
    """Lifecycle of a site or a segment."""

    PLANNED = "planned"
    UNDER_CONSTRUCTION = "under_construction"
    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"
    ABANDONED = "abandoned"


class Installation(StrEnum):
    """How a segment's cable is laid."""

    DUCT = "duct"
    BURIED = "buried"
    AERIAL = "aerial"
    FACADE = "facade"
    OTHER = "other"


class RiskKind(StrEnum):
    """What makes segments fail together."""

    DUCT = "duct"
    TRENCH = "trench"
    BRIDGE_CROSSING = "bridge_crossing"
    OTHER = "other"


#: Columns of a sites GeoDataFrame handed to the registry (plus ``geometry``: Point, EPSG:2154).
#: ``extra`` holds a dict of unmapped source attributes; ``source`` names the delivery source.
SITE_COLUMNS: tuple[str, ...] = ("code", "name", "kind", "operator", "status", "source", "extra")

#: Columns of a segments GeoDataFrame handed to the registry (plus ``geometry``: LineString,
#: EPSG:2154). ``site_a``/``site_b`` are site codes; ``commissioned_on`` a date or None.
SEGMENT_COLUMNS: tuple[str, ...] = (
    "code",
    "site_a",
    "site_b",
    "fibre_count",
    "fibres_used",
    "cable_type",
    "installation",
    "status",
    "owner",
    "operator",
    "commissioned_on",
    "source",
    "extra",
)

#: Columns of a shared-risk groups DataFrame.
RISK_GROUP_COLUMNS: tuple[str, ...] = ("code", "kind", "name", "source", "extra")

#: Columns of the segment ↔ shared-risk group link DataFrame.
SEGMENT_RISK_COLUMNS: tuple[str, ...] = ("segment_code", "risk_group_code")

SITE_KIND_LABELS_FR: dict[str, str] = {
    SiteKind.DATACENTRE: "Centre de données",
    SiteKind.CHATON: "Nœud CHATON",
    SiteKind.POP: "Point de présence",
    SiteKind.JUNCTION: "Jonction",
    SiteKind.CHAMBER: "Chambre / point d'épissure",
    SiteKind.PUBLIC_SITE: "Site public",
    SiteKind.OTHER: "Autre",
}

STATUS_LABELS_FR: dict[str, str] = {
    Status.PLANNED: "En projet",
    Status.UNDER_CONSTRUCTION: "En construction",
    Status.IN_SERVICE: "En service",
    Status.OUT_OF_SERVICE: "Hors service",
    Status.ABANDONED: "Abandonné",
}

INSTALLATION_LABELS_FR: dict[str, str] = {
    Installation.DUCT: "Fourreau",
    Installation.BURIED: "Pleine terre",
    Installation.AERIAL: "Aérien",
    Installation.FACADE: "Façade",
    Installation.OTHER: "Autre",
}

RISK_KIND_LABELS_FR: dict[str, str] = {
    RiskKind.DUCT: "Fourreau",
    RiskKind.TRENCH: "Tranchée",
    RiskKind.BRIDGE_CROSSING: "Franchissement d'ouvrage",
    RiskKind.OTHER: "Autre",
}

#: Field names of the project's own survey format in a Shapefile (dBase allows 10 characters);
#: GeoPackage, GeoJSON and CSV deliveries use the full registry names.
SHAPEFILE_FIELD_NAMES: dict[str, str] = {
    "fibre_count": "fibres",
    "fibres_used": "fibres_use",
    "installation": "install",
    "commissioned_on": "commission",
    "segment_code": "segment",
    "risk_group_code": "risk_group",
}

#: The six départements of Centre-Val de Loire (INSEE code → name).
DEPARTEMENTS: dict[str, str] = {
    "18": "Cher",
    "28": "Eure-et-Loir",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "41": "Loir-et-Cher",
    "45": "Loiret",
}
