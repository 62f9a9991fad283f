"""The import, end to end: read → map → check → topology → Delivery → one registry load.

:func:`prepare_import` is pure with respect to the registry (it only reads files, and the
registry sites it is handed); :func:`import_paths` adds the registry: nothing is written
unless every check passed, and then :func:`recor.registry.load_delivery` writes all of it
in one transaction, or nothing.
"""

from __future__ import annotations

import getpass
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import psycopg
from pyproj import CRS
from pyproj.exceptions import CRSError

from recor._gc import paused_gc
from recor.config import STORAGE_CRS, ImportSettings
from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SEGMENT_RISK_COLUMNS, SITE_COLUMNS
from recor.errors import CommitUncertain, ConfigurationError, ImportRefused, RegistryError
from recor.ingest.attributes import check_attributes, check_codes_against_registry
from recor.ingest.delivery_checks import check_disconnected_parts, check_site_statuses
from recor.ingest.diffmap import diff_map_svg
from recor.ingest.findings import Findings, describe_finding
from recor.ingest.geometry import check_geometries, check_lengths, check_stacked_sites
from recor.ingest.gracethd_checks import WAIVED
from recor.ingest.identity import delivered_files, input_digest
from recor.ingest.mapping import map_layer
from recor.ingest.profiles import CODE_FIELDS, LayerRule, Profile, load_profile
from recor.ingest.readers import RawLayer, read_layer_chunks, to_storage_crs
from recor.ingest.selection import check_columns, filter_rows, select_layers
from recor.ingest.sources import DeliveryFiles, one_reading
from recor.registry import load_delivery, read_codes, read_sites
from recor.registry.batch import registry_error
from recor.registry.lock import LockHolder, LockWait, write_transaction
from recor.registry.model import (
    BatchInfo,
    Delivery,
    LoadSummary,
    NewestBatch,
    ReplaceScope,
    SourceFile,
)
from recor.registry.read import newest_batch, registry_generation, registry_state

__all__ = ["ImportResult", "PreparedImport", "RegistryContext", "import_paths", "prepare_import"]

log = logging.getLogger(__name__)

#: Given the delivery's bounding box, the registry's active sites and segment codes there.
RegistryLookup = Callable[[tuple[float, float, float, float]], "RegistryContext"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RegistryContext:
    """What the import needs to know of the registry: nearby sites, codes and sources."""

    sites: gpd.GeoDataFrame | None = None
    segments: pd.DataFrame | None = None


@dataclass
class PreparedImport:
    """A delivery read and checked, not yet loaded."""

    delivery: Delivery | None
    findings: pd.DataFrame
    source_files: tuple[SourceFile, ...]
    profile: str
    paths: tuple[str, ...] = ()
    #: the newest batch loaded this very input, so nothing was read (see import_paths)
    identical_to: int | None = None

    @property
    def refused(self) -> bool:
        """True when an error blocks the load."""
        unread = self.delivery is None and self.identical_to is None
        return unread or bool((self.findings["severity"] == "error").any())

    def errors(self) -> pd.DataFrame:
        """The blocking findings."""
        return self.findings[self.findings["severity"] == "error"]

    def batch_info(
        self,
        *,
        user: str = "",
        note: str = "",
        max_findings: int = 1000,
        input_digest: str | None = None,
    ) -> BatchInfo:
        """Provenance for the registry batch (findings capped to keep the batch row small).

        A draft acceptance (``GTHD-DRAFT``) and every finding it waived come first, so the
        cap never hides them, and the acceptance is repeated in the batch's note.
        """
        return BatchInfo(
            source_files=self.source_files,
            profile=self.profile,
            user=user,
            note=_batch_note(self.findings, note),
            findings=_batch_findings(self.findings, max_findings),
            input_digest=input_digest,
        )

    def refusal(self) -> ImportRefused:
        """The error to raise for a refused delivery, quoting its first errors."""
        errors = self.errors()
        lines = [describe_finding(row) for _, row in errors.head(5).iterrows()]
        more = f" (+{len(errors) - 5} autres)" if len(errors) > 5 else ""
        return ImportRefused(
            f"delivery refused: {len(errors)} error(s){more}; nothing was written\n  "
            + "\n  ".join(lines)
        )


def _batch_findings(found: pd.DataFrame, max_findings: int = 1000) -> tuple[dict, ...]:
    """The findings a batch records: a draft acceptance and what it waived first, capped."""
    first = (found["rule"] == "GTHD-DRAFT") | found["message"].astype(str).str.endswith(WAIVED)
    ordered = pd.concat([found[first], found[~first]])
    return tuple(ordered.head(max(max_findings, int(first.sum()))).to_dict("records"))


def _batch_note(found: pd.DataFrame, note: str) -> str:
    """The batch's note: the user's, and a draft acceptance repeated."""
    said = "; ".join(found.loc[found["rule"] == "GTHD-DRAFT", "message"])
    return " | ".join(text for text in (note, said) if text)


@dataclass
class ImportResult:
    """Outcome of :func:`import_paths`: the prepared delivery and, when loaded, the summary."""

    prepared: PreparedImport
    summary: LoadSummary | None = None
    dry_run: bool = False
    extra_findings: list[dict] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        """True when the registry now holds the delivery (never for a dry run).

        A delivery identical to what the registry holds is loaded with no batch
        (:attr:`status` ``unchanged``).
        """
        return self.summary is not None and not self.dry_run

    @property
    def status(self) -> str:
        """``refused``, ``dry-run``, ``unchanged`` (nothing to write) or ``loaded``."""
        if self.refused:
            return "refused"
        if self.dry_run:
            return "dry-run"
        assert self.summary is not None
        return "loaded" if self.summary.batch_id is not None else "unchanged"

    @property
    def refused(self) -> bool:
        """True when the delivery was refused (by the checks or by the registry)."""
        return self.prepared.refused or self.summary is None

    def diff_map(self) -> str:
        """SVG map of the delivered segments by outcome (added/changed/unchanged/error)."""
        delivery = self.prepared.delivery
        if delivery is None or not len(delivery.segments):
            return ""
        findings = self.prepared.findings
        wrong = findings.loc[findings["severity"] == "error", "code"]
        summary = self.summary.segments if self.summary else None
        return diff_map_svg(
            delivery.segments,
            added=summary.added if summary else None,
            changed=summary.changed if summary else None,
            erroneous=list(wrong),
        )

    def retired_codes(self) -> dict[str, list[str]]:
        """Codes retired (or, in a dry run, to be retired) per entity; empty when refused."""
        if self.summary is None:
            return {}
        return {
            "sites": list(self.summary.sites.retired),
            "segments": list(self.summary.segments.retired),
            "risk_groups": list(self.summary.risk_groups.retired),
            "risk_links": list(self.summary.links.retired),
        }

    def as_dict(self) -> dict:
        """Machine-readable summary (``recor import --json``)."""
        findings = self.prepared.findings
        return {
            "status": self.status,
            "batch_id": self.summary.batch_id if self.summary else None,
            "dry_run": self.dry_run,
            "profile": self.prepared.profile,
            "files": [f.__dict__ for f in self.prepared.source_files],
            "counts": self.summary.counts() if self.summary else None,
            "retired": self.retired_codes(),
            "findings_by_severity": findings["severity"].value_counts().to_dict(),
            "findings": findings.to_dict("records"),
        }


def prepare_import(
    paths: Sequence[str | Path],
    *,
    settings: ImportSettings | None = None,
    profile: str | Path | Profile = "auto",
    crs: str | int | None = None,
    layer: str | Sequence[str] | None = None,
    registry: RegistryLookup | None = None,
    progress: Progress | None = None,
) -> PreparedImport:
    """Read and check a delivery; nothing touches the registry.

    Parameters
    ----------
    paths
        Shapefiles, folders, zips, GeoPackages, GeoJSON or CSV files, delivered together.
    settings
        Tolerances and limits (default :class:`~recor.config.ImportSettings`).
    profile
        ``"auto"`` (GraceTHD when ``t_noeud``/``t_cheminement`` are present, else ``recor``),
        a built-in profile name, a profile file, or a :class:`Profile`.
    crs
        CRS of layers declaring none (e.g. ``2154`` or ``"EPSG:4326"``); replaces a declared one.
    layer
        Read only these layers (GeoPackage layer names or file stems; one name or several).
    registry
        Looks up registry sites and codes around the delivery; None for an empty registry.
    progress
        Called with the name of each stage (the CLI shows it).

    Returns
    -------
    PreparedImport
        The :class:`~recor.registry.Delivery` (None when nothing usable was read) and findings.
    """
    with paused_gc():  # see _prepare
        return _prepare(
            paths, settings=settings, profile=profile, crs=crs, layer=layer, registry=registry,
            progress=progress,
        ).finish()  # fmt: skip


def _prepare(
    paths: Sequence[str | Path],
    *,
    settings: ImportSettings | None,
    profile: str | Path | Profile,
    crs: str | int | None,
    layer: str | Sequence[str] | None,
    registry: RegistryLookup | None,
    progress: Progress | None,
) -> _Preparing:
    """:func:`prepare_import` up to the built delivery; its last checks left to run."""
    settings = settings or ImportSettings()
    say = progress or (lambda _stage: None)
    findings = Findings()
    override = _override_crs(crs)
    limit = settings.max_unzipped_mb * 1024 * 1024
    names = [layer] if isinstance(layer, str) else list(layer or ())
    delivered = ", ".join(Path(p).name for p in paths)
    refused = _refused_profile(profile, findings)
    if refused is not None:
        return _Preparing(None, findings, (), refused, tuple(str(p) for p in paths))
    # Hundreds of thousands of geometries and texts, and no reference cycles: the cyclic
    # collector's full passes over them would cost ~0.5 s at 200,000 segments (the reader
    # frees its own cycle, see readers._read_ogr).
    with paused_gc():
        given = tuple(Path(p) for p in paths)
        with DeliveryFiles(given, findings, limit, limits=settings) as files:
            layers = select_layers(files.layers, names, findings, delivered)
            chosen = _choose_profile(profile, [s.name for s in layers])
            say("lecture")
            if chosen.format == "gracethd-v2":
                from recor.ingest.gracethd import read_gracethd

                frames = read_gracethd(layers, chosen, findings, settings, override=override)
                frames = _prefix_codes(frames, chosen.code_prefix)
            else:
                frames = _read_generic(layers, chosen, findings, settings, override)
            source_files = tuple(files.source_files)
        built = _check_and_build(frames, chosen, findings, settings, registry, say, delivered)
    delivery, late = built if built is not None else (None, None)
    return _Preparing(
        delivery, findings, source_files, chosen.name, tuple(str(p) for p in paths), late
    )


@dataclass
class _Preparing:
    """A delivery read and built; its last checks, which only report, may not have run yet.

    Those checks (segment layout, site statuses, disconnected parts) change nothing in the
    delivery, so :func:`import_paths` runs them while the registry merges the rows.
    """

    delivery: Delivery | None
    findings: Findings
    source_files: tuple[SourceFile, ...]
    profile: str
    paths: tuple[str, ...]
    late: Callable[[], None] | None = None

    @property
    def refused(self) -> bool:
        """Refused already by what was checked so far (the last checks only add to it)."""
        return self.delivery is None or self.findings.count("error") > 0

    def finish(self) -> PreparedImport:
        """Run the checks left (once) and return the prepared import with every finding."""
        if self.late is not None:
            late, self.late = self.late, None
            late()
        return PreparedImport(
            delivery=self.delivery,
            findings=self.findings.frame(),
            source_files=self.source_files,
            profile=self.profile,
            paths=self.paths,
        )


def _prefix_codes(
    frames: dict[str, list[pd.DataFrame]], prefix: str
) -> dict[str, list[pd.DataFrame]]:
    """Every delivered code with the profile's ``code_prefix`` (GraceTHD: after the joins)."""
    if not prefix:
        return frames
    out: dict[str, list[pd.DataFrame]] = {}
    for entity, parts in frames.items():
        out[entity] = []
        for part in parts:
            part = part.copy()
            if entity == "gracethd_tables":  # kept as delivered; the prefix goes with them
                part.attrs["code_prefix"] = prefix
                out[entity].append(part)
                continue
            for column in CODE_FIELDS & set(part.columns):
                values = part[column].astype(object)
                present = values.notna() & (values != "")
                part[column] = values.where(~present, prefix + values.astype(str))
            out[entity].append(part)
    return out


def _override_crs(crs: str | int | None) -> CRS | None:
    if crs is None:
        return None
    text = str(crs).strip()
    try:
        return CRS.from_user_input(_crs_input(text))
    except CRSError as exc:
        raise ConfigurationError(
            f"--crs {crs!r}: système de coordonnées inconnu (attendu : un code EPSG, "
            "par ex. 2154 ou EPSG:4326)"
        ) from exc


def _refused_profile(profile: str | Path | Profile, findings: Findings) -> str | None:
    """A profile file that cannot be used is a refusal (SRC-PROFILE); its name, else None.

    An unknown built-in name stays a usage error (:class:`ConfigurationError`).
    """
    if isinstance(profile, Profile) or str(profile) == "auto" or not Path(profile).is_file():
        return None
    try:
        load_profile(profile)
    except ConfigurationError as exc:
        findings.add("SRC-PROFILE", str(exc), file=str(profile), field="profile")
        return str(profile)
    return None


def _choose_profile(profile: str | Path | Profile, names: list[str]) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if str(profile) == "auto":
        gracethd = {"t_noeud", "t_cheminement"} <= set(names)
        return load_profile("gracethd-v2" if gracethd else "recor")
    return load_profile(profile)


def _read_generic(
    layers: list,
    profile: Profile,
    findings: Findings,
    settings: ImportSettings,
    override: CRS | None,
) -> dict[str, list[pd.DataFrame]]:
    frames: dict[str, list[pd.DataFrame]] = {}
    for source in layers:
        named = next((r for r in profile.layers if r.matches(source.name)), None)
        if named is None and profile.ignores(source.name):
            findings.add(
                "SRC-LAYER-SKIPPED",
                f"couche « {source.name} » écartée par le profil {profile.name} (ignore_layers)",
                file=source.display,
            )
            continue
        csv_geometry = named.csv_geometry if named is not None else None
        filtered, rule = 0, named
        chunks = read_layer_chunks(
            source, findings, chunk_size=settings.chunk_size, csv_geometry=csv_geometry
        )
        for number, raw in enumerate(chunks):
            if len(raw.frame) == 0:
                break
            kind = _geometry_kind(raw.frame) if raw.has_geometry else "none"
            rule = named or profile.layer_for(source.name, kind)
            if rule is None:
                _report_unmatched(raw, kind, profile, findings)
                break
            if number == 0 and not check_columns(
                raw.frame, rule, profile, findings, source.display, has_geometry=raw.has_geometry
            ):
                break
            kept, dropped = filter_rows(raw.frame, rule.where)
            filtered += dropped
            if not len(kept):
                continue
            raw = replace(raw, frame=kept)
            mapped = _map_chunk(raw, rule, profile, findings, settings, override)
            if mapped is None:
                break
            frames.setdefault(rule.entity, []).append(mapped)
        if filtered and rule is not None:
            findings.add(
                "PROFILE-ROWS-FILTERED",
                f"{filtered} entité(s) écartée(s) par le filtre du profil {profile.name} "
                f"({rule.label}.where : {' ; '.join(c.describe() for c in rule.where)})",
                file=source.display,
                value=filtered,
            )
    return frames


def _report_unmatched(raw: RawLayer, kind: str, profile: Profile, findings: Findings) -> None:
    source = raw.source
    findings.add(
        "SRC-LAYER-IGNORED",
        f"couche « {source.name} » ({_KIND_LABELS_FR.get(kind, kind)}) non importée : aucune "
        f"règle du profil {profile.name} ne la nomme (l'ajouter à layers.*.match, ou à "
        "ignore_layers pour la taire)",
        file=source.display,
        value=source.name,
    )


def _map_chunk(
    raw: RawLayer,
    rule: LayerRule,
    profile: Profile,
    findings: Findings,
    settings: ImportSettings,
    override: CRS | None,
) -> pd.DataFrame | None:
    """One chunk of a layer in registry fields; None when the layer is unusable."""
    source = raw.source
    frame = raw.frame
    if rule.geometry != "none":
        if not raw.has_geometry:
            findings.add("GEOM-NULL", "couche sans géométrie", file=source.display)
            return None
        if raw.crs is None and override is None and rule.crs is not None:
            declared = CRS.from_user_input(_crs_input(rule.crs))
            raw = replace(raw, crs=declared, frame=raw.frame.set_crs(declared))
        frame = to_storage_crs(raw, findings, override=override)
        if frame is None:
            return None
    mapped = map_layer(
        frame, rule, findings, settings, default_source=profile.source,
        fixed_width=source.kind in {"shp", "dbf"} and settings.max_text_length >= 254,
        code_prefix=profile.code_prefix, json_text=source.kind == "geojson",
    )  # fmt: skip
    if rule.geometry != "none":
        delivered = raw.frame.geometry if raw.has_geometry else None
        mapped = check_geometries(mapped, rule.geometry, findings, settings, delivered=delivered)
    return mapped


def _crs_input(text: str) -> str | int:
    return int(text) if text.strip().isdigit() else text


_KIND_LABELS_FR = {
    "point": "points",
    "line": "lignes",
    "none": "sans géométrie",
    "other": "géométries ni toutes ponctuelles ni toutes linéaires",
}


def _geometry_kind(frame: gpd.GeoDataFrame) -> str:
    types = set(frame.geometry.geom_type.dropna().unique())
    if types and types <= {"Point", "MultiPoint"}:
        return "point"
    if types and types <= {"LineString", "MultiLineString"}:
        return "line"
    return "other"


def _empty(entity: str) -> pd.DataFrame:
    columns = {
        "sites": SITE_COLUMNS,
        "segments": SEGMENT_COLUMNS,
        "risk_groups": RISK_GROUP_COLUMNS,
        "segment_risk_groups": SEGMENT_RISK_COLUMNS,
    }[entity]
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in (*columns, "_file", "_feature")})
    if entity in {"sites", "segments"}:
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)
    return frame


def _concat(parts: list[pd.DataFrame] | None, entity: str) -> pd.DataFrame:
    if not parts:
        return _empty(entity)
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    out = pd.concat(parts, ignore_index=True)
    if entity in {"sites", "segments"}:
        return gpd.GeoDataFrame(out, geometry=parts[0].geometry.name, crs=STORAGE_CRS)
    return out


def _check_and_build(
    frames: dict[str, list[pd.DataFrame]],
    profile: Profile,
    findings: Findings,
    settings: ImportSettings,
    registry: RegistryLookup | None,
    say: Progress,
    delivered: str,
) -> tuple[Delivery, Callable[[], None]] | None:
    # popped, not read: the chunks are freed once joined (a million segments: ~250 MB)
    sites = _concat(frames.pop("sites", None), "sites")
    segments = _concat(frames.pop("segments", None), "segments")
    if not len(sites) and not len(segments):
        found = findings.frame()
        ignored = found.loc[found["rule"] == "SRC-LAYER-IGNORED", "file"]
        hint = f" (couches ignorées : {', '.join(ignored)} ; voir SRC-LAYER-IGNORED)"
        findings.add(
            "SRC-EMPTY",
            "aucun site ni tronçon lu dans la livraison" + (hint if len(ignored) else ""),
            file=delivered,
        )
        return None
    say("contrôles")
    for entity, frame in (("sites", sites), ("segments", segments)):
        check_attributes(frame, entity, findings)
    risk_groups = (
        _concat(frames.get("risk_groups"), "risk_groups") if "risk_groups" in frames else None
    )
    links = frames.get("segment_risk_groups")
    links_frame = _concat(links, "segment_risk_groups") if links else None
    if risk_groups is not None:
        check_attributes(risk_groups, "risk_groups", findings)
    if links_frame is not None:
        check_attributes(links_frame, "segment_risk_groups", findings)
    check_lengths(segments, findings, settings)
    check_stacked_sites(sites, findings)
    context = RegistryContext()
    if registry is not None:
        try:
            context = registry(_bbox(sites, segments, settings.snap_tolerance_m))
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            findings.add(
                "REG-UNAVAILABLE",
                f"connexion au registre perdue pendant la lecture des sites existants ({exc}) ;"
                " rien n'a été écrit",
                file=delivered,
            )
            return None
        check_codes_against_registry(sites, context.sites, findings)
        check_codes_against_registry(segments, context.segments, findings)
    say("topologie")
    from recor.ingest.topology import build_topology, check_segment_layout

    sites, segments = build_topology(
        sites, segments, context.sites, findings,
        tolerance=settings.snap_tolerance_m, source=profile.source,
    )  # fmt: skip

    def late() -> None:  # reads the frames, writes findings only
        check_segment_layout(
            segments, findings, tolerance=settings.snap_tolerance_m, block=settings.chunk_size
        )
        check_site_statuses(segments, sites, context.sites, findings)
        check_disconnected_parts(segments, sites, findings)

    delivery = Delivery(
        sites=gpd.GeoDataFrame(sites[[*SITE_COLUMNS, "geometry"]], crs=STORAGE_CRS),
        segments=gpd.GeoDataFrame(segments[[*SEGMENT_COLUMNS, "geometry"]], crs=STORAGE_CRS),
        risk_groups=None if risk_groups is None else risk_groups[list(RISK_GROUP_COLUMNS)],
        segment_risk_groups=None
        if links_frame is None
        else links_frame[list(SEGMENT_RISK_COLUMNS)],
        gracethd_tables={f.attrs["table"]: f for f in frames.get("gracethd_tables", [])} or None,
    )
    return delivery, late


def _bbox(
    sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, margin: float
) -> tuple[float, float, float, float]:
    bounds = [f.total_bounds for f in (sites, segments) if len(f) and f.geometry.notna().any()]
    if not bounds:
        return (0.0, 0.0, 0.0, 0.0)
    xmin = min(b[0] for b in bounds) - margin
    ymin = min(b[1] for b in bounds) - margin
    xmax = max(b[2] for b in bounds) + margin
    ymax = max(b[3] for b in bounds) + margin
    return (xmin, ymin, xmax, ymax)


class _Lookup:
    """Reads active registry sites and segment codes within a bounding box.

    Remembers the registry generation (newest committed batch) read *before* the sites, so
    the load can tell, under the write lock, whether the registry changed since.
    """

    def __init__(self, conn: psycopg.Connection, *, in_transaction: bool = False) -> None:
        self.conn = conn
        self.in_transaction = in_transaction
        self.generation: int | None = None

    def __call__(self, bbox: tuple[float, float, float, float]) -> RegistryContext:
        self.generation = registry_generation(self.conn)
        sites = read_sites(self.conn, bbox=bbox)
        segments = read_codes(self.conn, "segments", bbox=bbox)
        if not self.in_transaction:
            self.conn.rollback()  # reads leave no transaction open: the load opens its own
        return RegistryContext(
            sites=sites[["code", "source", "status", "geometry"]], segments=segments
        )


def _identical_batch(
    conn: psycopg.Connection, paths: Sequence[str | Path], identity: dict
) -> ImportResult | None:
    """The answer to a delivery the registry's newest batch loaded as is, else None."""
    settings = identity["settings"]
    files = delivered_files(paths, settings)
    if files is None:
        return None
    try:
        newest = newest_batch(conn)
        state = registry_state(conn)
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()  # the reads leave no transaction open
    except (psycopg.OperationalError, psycopg.InterfaceError):
        return None  # the full path reports the lost connection (REG-UNAVAILABLE)
    # a digest is the word of the client that recorded it: trusted from the same login only
    if newest is None or newest.outcome != "loaded" or not newest.same_login:
        return None
    if newest.input_digest != input_digest(files, **identity, registry_state=state):
        return None
    log.info("delivery identical to batch %s: nothing read, nothing written", newest.id)
    return _identical_result(newest, files, paths)


def _identical_result(
    batch: NewestBatch, files: tuple[SourceFile, ...], paths: Sequence[str | Path]
) -> ImportResult:
    when = (
        batch.finished_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y à %H:%M")
        if batch.finished_at
        else "?"
    )
    by = f" par {batch.user}" if batch.user else ""
    findings = Findings()
    findings.add(
        "REG-IDENTICAL",
        f"livraison identique à celle du lot n° {batch.id} (chargé le {when}{by}) : mêmes"
        " fichiers (SHA-256), même profil, mêmes options, même version de recor, et aucun lot"
        " n'a été chargé ni annulé depuis ; elle n'a pas été relue (« recor import --recheck »"
        " la relit et la contrôle tout de même)",
        file=", ".join(Path(p).name for p in paths),
        value=batch.id,
    )
    summary = LoadSummary(batch_id=None, dry_run=False)
    for name, counts in summary.entities().items():  # every delivered row, now unchanged
        done = batch.counts.get(name) or {}
        counts.unchanged = sum(int(done.get(k, 0)) for k in ("added", "changed", "unchanged"))
    prepared = PreparedImport(
        delivery=None,
        findings=findings.frame(),
        source_files=files,
        profile=batch.profile,
        paths=tuple(str(p) for p in paths),
        identical_to=batch.id,
    )
    return ImportResult(prepared, summary=summary)


def registry_lookup(conn: psycopg.Connection) -> RegistryLookup:
    """A lookup reading active registry sites and segment codes within a bounding box."""
    return _Lookup(conn)


def import_paths(
    conn: psycopg.Connection,
    paths: Sequence[str | Path],
    *,
    settings: ImportSettings | None = None,
    profile: str | Path | Profile = "auto",
    crs: str | int | None = None,
    layer: str | Sequence[str] | None = None,
    replace_scope: ReplaceScope | None = None,
    dry_run: bool = False,
    user: str | None = None,
    note: str = "",
    progress: Progress | None = None,
    on_lock_wait: Callable[[LockHolder | None, float], None] | None = None,
    recheck: bool = False,
) -> ImportResult:
    """Read, check and, when nothing blocks, load a delivery in one transaction.

    A refused delivery (checks or database rules) leaves the registry exactly as it was;
    the result then has ``refused`` True and its findings say why. Parameters as
    :func:`prepare_import`, plus ``replace_scope`` (which missing rows to retire),
    ``dry_run`` (compute the diff, write nothing), ``user`` (default: the login name) and
    ``on_lock_wait`` (told whom the import waits for while another writer holds the lock).

    A delivery identical to the one the registry's newest batch loaded (same files by
    SHA-256, same profile, options and recor code: :mod:`recor.ingest.identity`) cannot
    change anything: it is answered ``unchanged`` without being read again, unless
    ``recheck`` asks to read and check it all the same.

    The snapping to registry sites is computed before the write lock is taken; once the
    lock is held, if another batch was committed since that lookup, the delivery is checked
    again against the registry as it now is, under the lock, before anything is written.
    """
    settings = settings or ImportSettings()
    options = {"settings": settings, "profile": profile, "crs": crs, "layer": layer}
    identity = {**options, "replace_scope": replace_scope}
    lookup = _Lookup(conn)
    with one_reading():  # the files are hashed once for both
        same = None if recheck else _identical_batch(conn, paths, identity)
        if same is not None:
            same.dry_run = dry_run
            return same
        preparing = _prepare(paths, registry=lookup, progress=progress, **options)  # type: ignore[arg-type]
    if preparing.refused:
        with paused_gc():  # see _prepare
            prepared = preparing.finish()  # the report lists every finding, late ones too
        log.info("delivery refused before loading: %d error(s)", len(prepared.errors()))
        return ImportResult(prepared, dry_run=dry_run)
    if progress:
        progress("chargement")
    login = user if user is not None else _login()
    wait = LockWait(timeout_s=settings.lock_timeout_s, on_wait=on_lock_wait)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    with paused_gc():  # over the last checks too (they run beside the load)
        return _load_while_checking(
            conn, paths, preparing, lookup, options=options, identity=identity,
            replace_scope=replace_scope, dry_run=dry_run, login=login, note=note, wait=wait,
        )  # fmt: skip


def _load_while_checking(
    conn: psycopg.Connection,
    paths: Sequence[str | Path],
    preparing: _Preparing,
    lookup: _Lookup,
    *,
    options: dict,
    identity: dict,
    replace_scope: ReplaceScope | None,
    dry_run: bool,
    login: str,
    note: str,
    wait: LockWait,
) -> ImportResult:
    """Load a built delivery in one transaction while its last checks run in a thread.

    Those checks only report; they run while the registry stages and merges the rows (for
    the importing process mostly a wait on the server), and their findings join the batch
    before it closes. Should one of them find an error, the load rolls back.
    """
    # the note repeats a draft acceptance, read with the delivery: known before the last
    # checks, which only report on the network
    early_note = _batch_note(preparing.findings.frame(), note)
    # they start once the rows are staged: formatting the COPY is the importing process's
    # own work, the rest of the load the server's
    go = threading.Event()
    checking = _in_background(preparing.finish, go)
    prepared: PreparedImport | None = None
    summary: LoadSummary | None = None

    def checked() -> PreparedImport:
        """Every finding of the delivery (runs or waits for the last checks)."""
        nonlocal prepared
        if prepared is None:
            go.set()
            prepared = checking.result()
        return prepared

    def batch_findings() -> tuple[dict, ...]:
        if checked().refused:
            raise _LateRefusal
        # a draft acceptance is said while reading, never by the last checks
        assert _batch_note(checked().findings, note) == early_note
        return _batch_findings(checked().findings)

    try:
        with write_transaction(conn, user=login, wait=wait) as writer:
            state = registry_state(conn)
            if lookup.generation is not None and writer.generation != lookup.generation:
                log.info(
                    "registry changed since the lookup (batch %s → %s): checking again"
                    " under the write lock", lookup.generation, writer.generation,
                )  # fmt: skip
                _drop(checking, go)  # the delivery is read and checked again, whole
                again = _Lookup(conn, in_transaction=True)
                prepared = prepare_import(paths, registry=again, **options)  # type: ignore[arg-type]
                if prepared.refused:
                    return ImportResult(prepared, dry_run=dry_run)
                assert prepared.delivery is not None
                digest = input_digest(prepared.source_files, **identity, registry_state=state)  # type: ignore[arg-type]
                info = prepared.batch_info(user=login, note=note, input_digest=digest)
                summary = load_delivery(
                    conn, prepared.delivery, info, replace_scope=replace_scope, dry_run=dry_run
                )
            else:
                assert preparing.delivery is not None
                digest = input_digest(preparing.source_files, **identity, registry_state=state)  # type: ignore[arg-type]
                info = BatchInfo(
                    source_files=preparing.source_files, profile=preparing.profile,
                    user=login, note=early_note, input_digest=digest,
                )  # fmt: skip
                summary = load_delivery(
                    conn, preparing.delivery, info, replace_scope=replace_scope,
                    dry_run=dry_run, findings=batch_findings, staged=go.set,
                )  # fmt: skip
        if writer.commit_note:
            summary.commit_note = writer.commit_note
    except _LateRefusal:
        log.info("delivery refused by its last checks: %d error(s)", len(checked().errors()))
        summary = None
    except (RegistryError, psycopg.Error) as exc:
        if isinstance(exc, psycopg.Error):  # a deferred rule refusing at commit
            exc = registry_error(exc)
        summary = None
        _add_refusal(checked(), exc)
    finally:
        if prepared is None:  # left by an interruption: checks not started are not run
            checking.cancel()
            go.set()
    return ImportResult(checked(), summary=summary, dry_run=dry_run)


def _drop(checking: Future[PreparedImport], go: threading.Event) -> None:
    """Superseded last checks: never run (waited for, were they already running)."""
    if not checking.cancel():
        wait_for([checking])
    go.set()


def _in_background(
    work: Callable[[], PreparedImport], go: threading.Event
) -> Future[PreparedImport]:
    """Run ``work`` in a daemon thread once ``go`` is set.

    A daemon: an interrupted import (Ctrl-C) does not wait for it.
    """
    future: Future[PreparedImport] = Future()

    def run() -> None:
        go.wait()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to whoever waits for the result
                future.set_exception(exc)

    threading.Thread(target=run, name="recor-last-checks", daemon=True).start()
    return future


class _LateRefusal(Exception):
    """A last check found an error while the rows were staged: the load rolls back."""


def _add_refusal(prepared: PreparedImport, exc: RegistryError) -> None:
    """Put the registry's refusal (or a commit of unknown outcome) first in the findings."""
    uncertain = isinstance(exc, CommitUncertain)
    refusal = Findings()
    refusal.add(
        "REG-UNCERTAIN" if uncertain else "REG-REFUSED",
        f"la connexion au registre a été perdue pendant la validation : on ne sait pas si le"
        f" lot a été écrit, vérifiez avec « recor import list » ({exc})"
        if uncertain
        else f"le registre a refusé le chargement, rien n'a été écrit ({exc})",
        file=", ".join(prepared.paths),
    )
    prepared.findings = pd.concat([refusal.frame(), prepared.findings], ignore_index=True)


def load_delivery_checked(
    conn: psycopg.Connection,
    delivery: Delivery,
    info: BatchInfo,
    replace_scope: ReplaceScope | None,
    dry_run: bool,
) -> LoadSummary:
    """Hand a checked delivery to the registry (one transaction, all or nothing)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    return load_delivery(conn, delivery, info, replace_scope=replace_scope, dry_run=dry_run)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
