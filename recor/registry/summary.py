"""The registry at a glance: sites by kind, km of fibre by status and by département.

Unknown is not zero: fibre-km add up the segments whose fibre count is known, and the summary
says how many segments (and route km) have an unknown fibre count or an unknown usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from recor.registry.model import RegistryVersion
from recor.registry.version import registry_version

__all__ = ["RegistrySummary", "summarise"]


@dataclass(frozen=True)
class RegistrySummary:
    """Counts and lengths of the active registry, with how the départements were found."""

    version: RegistryVersion
    sites_by_kind: dict[str, int] = field(default_factory=dict)
    km_by_status: dict[str, float] = field(default_factory=dict)
    km_by_departement: dict[str, float] = field(default_factory=dict)
    departement_method: str = ""
    segments: int = 0
    fibre_km: float = 0.0
    unknown_count_segments: int = 0
    unknown_count_km: float = 0.0
    unknown_usage_segments: int = 0
    unknown_usage_km: float = 0.0


#: Segments and fibre-km (known counts only), then segments and km of unknown count / usage.
_TOTALS = """
SELECT count(*),
       COALESCE(sum(length_m * fibre_count) / 1000, 0)::float,
       count(*) FILTER (WHERE fibre_count IS NULL),
       COALESCE(round(sum(length_m) FILTER (WHERE fibre_count IS NULL)::numeric / 1000, 1), 0)
           ::float,
       count(*) FILTER (WHERE fibres_used IS NULL),
       COALESCE(round(sum(length_m) FILTER (WHERE fibres_used IS NULL)::numeric / 1000, 1), 0)
           ::float
FROM recor.segments WHERE NOT retired
"""


_KM_BY_DEPARTEMENT_FROM_SITES = """
SELECT dep, round(sum(km)::numeric, 1)::float FROM (
    SELECT COALESCE(left(a.extra->>'insee', 2), '?') AS dep, s.length_m / 2000.0 AS km
    FROM recor.segments s JOIN recor.sites a ON a.id = s.site_a WHERE NOT s.retired
    UNION ALL
    SELECT COALESCE(left(b.extra->>'insee', 2), '?'), s.length_m / 2000.0
    FROM recor.segments s JOIN recor.sites b ON b.id = s.site_b WHERE NOT s.retired
) halves GROUP BY dep ORDER BY dep
"""


_KM_BY_DEPARTEMENT_FROM_BOUNDARIES = """
SELECT d.code, round((sum(ST_Length(ST_Intersection(s.geom, d.geom))) / 1000)::numeric, 1)::float
FROM recor.segments s
JOIN recor.reference_areas d ON d.kind = 'departements' AND ST_Intersects(s.geom, d.geom)
WHERE NOT s.retired GROUP BY d.code ORDER BY d.code
"""


def summarise(conn: psycopg.Connection) -> RegistrySummary:
    """Summarise the active registry.

    Kilometres per département are the segments clipped to the département boundaries when
    those are loaded as a reference layer (``recor reference import``); without them, each
    segment's length is split half and half between the départements of its two end sites
    (from the sites' INSEE commune code, ``extra.insee``). The method is stated in the result.
    """
    kinds = dict(
        conn.execute(
            "SELECT kind::text, count(*) FROM recor.sites WHERE NOT retired GROUP BY kind"
            " ORDER BY kind"
        ).fetchall()
    )
    statuses = dict(
        conn.execute(
            "SELECT status::text, round(sum(length_m)::numeric / 1000, 1)::float"
            " FROM recor.segments WHERE NOT retired GROUP BY status ORDER BY status"
        ).fetchall()
    )
    totals = conn.execute(_TOTALS).fetchone()
    if _has_departement_boundaries(conn):
        departements = dict(conn.execute(_KM_BY_DEPARTEMENT_FROM_BOUNDARIES).fetchall())
        method = "segments clipped to the département boundaries (reference layer)"
    else:
        departements = dict(conn.execute(_KM_BY_DEPARTEMENT_FROM_SITES).fetchall())
        method = "half of each segment to the département of each end site"
    return RegistrySummary(
        version=registry_version(conn),
        sites_by_kind=kinds,
        km_by_status=statuses,
        km_by_departement=departements,
        departement_method=method,
        segments=int(totals[0]) if totals else 0,
        fibre_km=float(totals[1]) if totals else 0.0,
        unknown_count_segments=int(totals[2]) if totals else 0,
        unknown_count_km=float(totals[3]) if totals else 0.0,
        unknown_usage_segments=int(totals[4]) if totals else 0,
        unknown_usage_km=float(totals[5]) if totals else 0.0,
    )


def _has_departement_boundaries(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('recor.reference_areas') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return False
    found = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM recor.reference_areas WHERE kind = 'departements')"
    ).fetchone()
    return bool(found and found[0])
