"""Loading deliveries: merge by code, idempotence, history, "as of" reads, scope, undo."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from recor import registry
from recor.errors import NotFound, RegistryError, UndoRefused
from recor.registry import BatchInfo, Delivery, ReplaceScope

pytestmark = pytest.mark.db


def _without_last_segment(delivery: Delivery) -> Delivery:
    kept = delivery.segments.iloc[:-1]
    links = delivery.segment_risk_groups
    return Delivery(delivery.sites, kept, delivery.risk_groups, links)


def _with_changed_fibres(delivery: Delivery, code: str, used: int) -> Delivery:
    segments = delivery.segments.copy()
    segments.loc[segments["code"] == code, "fibres_used"] = used
    return Delivery(delivery.sites, segments, delivery.risk_groups, delivery.segment_risk_groups)


def _moment() -> datetime:
    time.sleep(0.01)
    stamp = datetime.now(UTC)
    time.sleep(0.01)
    return stamp


def test_sample_loads_and_reads_back(conn, sample_delivery):
    summary = registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    assert len(summary.segments.added) == len(sample_delivery.segments)
    segments = registry.read_segments(conn)
    assert sorted(segments["code"]) == sorted(sample_delivery.segments["code"])
    assert segments.crs.to_epsg() == 2154
    by_code = segments.set_index("code")
    first = sample_delivery.segments.iloc[0]
    assert by_code.loc[first["code"], "site_a"] == first["site_a"]
    assert by_code.loc[first["code"], "length_m"] == pytest.approx(first.geometry.length)
    grouped = segments[segments["risk_groups"].map(len) > 0]
    assert len(grouped) == len(sample_delivery.segment_risk_groups)


def test_loading_the_same_delivery_twice_changes_nothing(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    again = registry.load_delivery(conn, sample_delivery, BatchInfo())
    assert again.counts()["segments"] == {
        "added": 0,
        "changed": 0,
        "unchanged": len(sample_delivery.segments),
        "retired": 0,
    }
    assert conn.execute("SELECT count(*) FROM recor.segments_history").fetchone()[0] == 0
    assert again.batch_id is None
    assert len(registry.list_batches(conn)) == 1


def test_a_changed_feature_keeps_its_old_version_readable_as_of(conn, sample_delivery):
    code = sample_delivery.segments["code"].iloc[0]
    old_used = int(sample_delivery.segments["fibres_used"].iloc[0])
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    before_change = _moment()
    summary = registry.load_delivery(
        conn, _with_changed_fibres(sample_delivery, code, old_used + 1), BatchInfo()
    )
    assert summary.segments.changed == [code]
    now = registry.read_segments(conn).set_index("code")
    then = registry.read_segments(conn, as_of=before_change).set_index("code")
    assert now.loc[code, "fibres_used"] == old_used + 1
    assert then.loc[code, "fibres_used"] == old_used
    versions = registry.history(conn, code)
    assert list(versions["fibres_used"]) == [old_used, old_used + 1]


def test_missing_features_are_retired_only_within_the_named_scope(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    last = sample_delivery.segments["code"].iloc[-1]
    unscoped = registry.load_delivery(conn, _without_last_segment(sample_delivery), BatchInfo())
    assert unscoped.segments.retired == []
    other = registry.load_delivery(
        conn,
        _without_last_segment(sample_delivery),
        BatchInfo(),
        replace_scope=ReplaceScope(source="another-contractor"),
    )
    assert other.segments.retired == []
    scoped = registry.load_delivery(
        conn,
        _without_last_segment(sample_delivery),
        BatchInfo(),
        replace_scope=ReplaceScope(source="recor-sample"),
    )
    assert scoped.segments.retired == [last]
    assert last not in set(registry.read_segments(conn)["code"])


def test_dry_run_reports_the_diff_and_writes_nothing(conn, sample_delivery):
    summary = registry.load_delivery(conn, sample_delivery, BatchInfo(), dry_run=True)
    assert len(summary.segments.added) == len(sample_delivery.segments)
    assert summary.batch_id is None
    assert conn.execute("SELECT count(*) FROM recor.segments").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM recor.import_batches").fetchone()[0] == 0


def test_a_refused_delivery_leaves_the_registry_exactly_as_before(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    before = registry.read_segments(conn)
    segments = sample_delivery.segments.copy()
    segments.loc[0, "fibres_used"] = 1
    bad_index = len(segments) - 1
    segments.loc[bad_index, "fibres_used"] = 10_000
    broken = Delivery(sample_delivery.sites, segments, sample_delivery.risk_groups,
                      sample_delivery.segment_risk_groups)  # fmt: skip
    with pytest.raises(RegistryError, match="segments_fibres_used_within_count"):
        registry.load_delivery(conn, broken, BatchInfo())
    after = registry.read_segments(conn)
    assert after.drop(columns="geometry").equals(before.drop(columns="geometry"))
    assert conn.execute("SELECT count(*) FROM recor.import_batches").fetchone()[0] == 1


def test_unknown_end_site_is_refused_naming_segment_and_field(conn, sample_delivery):
    segments = sample_delivery.segments.copy()
    segments.loc[3, "site_b"] = "NOWHERE"
    broken = Delivery(sample_delivery.sites, segments, None, None)
    code = segments.loc[3, "code"]
    with pytest.raises(RegistryError, match=rf"segments {code}: site_b 'NOWHERE'"):
        registry.load_delivery(conn, broken, BatchInfo())


def test_unknown_status_is_refused_naming_the_row(conn, sample_delivery):
    sites = sample_delivery.sites.copy()
    sites.loc[2, "status"] = "en service"
    with pytest.raises(RegistryError, match=rf"sites {sites.loc[2, 'code']}: status 'en service'"):
        registry.load_delivery(conn, Delivery(sites, sample_delivery.segments), BatchInfo())


def test_undo_restores_the_previous_state_and_keeps_the_trace(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    before = registry.read_segments(conn).drop(columns=["geometry", "valid_from", "batch_id"])
    code = sample_delivery.segments["code"].iloc[0]
    changed = registry.load_delivery(
        conn, _with_changed_fibres(_without_last_segment(sample_delivery), code, 0), BatchInfo(),
        replace_scope=ReplaceScope(source="recor-sample"),
    )  # fmt: skip
    undo = registry.undo_batch(conn, changed.batch_id, user="tester")
    assert sorted(undo.segments.changed) == sorted(
        [code, sample_delivery.segments["code"].iloc[-1]]
    )
    after = registry.read_segments(conn).drop(columns=["geometry", "valid_from", "batch_id"])
    assert after.equals(before)
    batches = registry.list_batches(conn).set_index("id")
    assert batches.loc[changed.batch_id, "outcome"] == "undone"
    assert batches.loc[undo.batch_id, "undoes"] == changed.batch_id
    assert len(registry.history(conn, code)) == 3


def test_undo_of_a_first_load_retires_what_it_added(conn, sample_delivery):
    first = registry.load_delivery(conn, sample_delivery, BatchInfo())
    registry.undo_batch(conn, first.batch_id)
    assert registry.read_segments(conn).empty
    assert registry.read_sites(conn).empty
    assert conn.execute("SELECT count(*) FROM recor.segments").fetchone()[0] > 0


def test_undo_is_refused_when_a_later_batch_changed_the_same_rows(conn, sample_delivery):
    code = sample_delivery.segments["code"].iloc[0]
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    second = registry.load_delivery(
        conn, _with_changed_fibres(sample_delivery, code, 0), BatchInfo()
    )
    third = registry.load_delivery(
        conn, _with_changed_fibres(sample_delivery, code, 1), BatchInfo()
    )
    with pytest.raises(UndoRefused, match=rf"{code} was changed again by batch {third.batch_id}"):
        registry.undo_batch(conn, second.batch_id)
    registry.undo_batch(conn, third.batch_id)
    with pytest.raises(UndoRefused, match="undone"):
        registry.undo_batch(conn, third.batch_id)
    with pytest.raises(NotFound):
        registry.undo_batch(conn, 999)


def test_registry_version_changes_with_every_batch(conn, sample_delivery):
    empty = registry.registry_version(conn)
    assert empty.batch_id is None
    first = registry.load_delivery(conn, sample_delivery, BatchInfo())
    assert registry.registry_version(conn).batch_id == first.batch_id
    undo = registry.undo_batch(conn, first.batch_id)
    assert registry.registry_version(conn).batch_id == undo.batch_id


def test_summary_counts_sites_and_kilometres(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    summary = registry.summarise(conn)
    assert summary.sites_by_kind == sample_delivery.sites["kind"].value_counts().to_dict()
    total_km = sample_delivery.segments.length.sum() / 1000
    assert sum(summary.km_by_status.values()) == pytest.approx(total_km, abs=0.5)
    assert sum(summary.km_by_departement.values()) == pytest.approx(total_km, abs=0.5)
    assert set(summary.km_by_departement) == {"18", "28", "36", "37", "41", "45"}
    segments = sample_delivery.segments
    unknown_count = segments["fibre_count"].isna()
    unknown_usage = segments["fibres_used"].isna()
    assert summary.unknown_count_segments == int(unknown_count.sum())
    assert summary.unknown_usage_segments == int(unknown_usage.sum())
    assert summary.unknown_count_km == pytest.approx(
        segments.length[unknown_count].sum() / 1000, abs=0.5
    )
    known = segments[~unknown_count]
    expected_fibre_km = (known.length * known["fibre_count"].astype(float)).sum() / 1000
    assert summary.fibre_km == pytest.approx(expected_fibre_km, rel=1e-3)


def test_two_loads_never_interleave(registry_url, sample_delivery):
    import threading

    from recor.registry.lock import write_transaction

    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with (
            registry.connect(registry_url, autocommit=True) as conn,
            write_transaction(conn, user="first"),
        ):
            holding.set()
            release.wait(5)
            order.append("first committed")

    def second() -> None:
        with registry.connect(registry_url, autocommit=True) as conn:
            registry.load_delivery(conn, sample_delivery, BatchInfo(note="second"))
            order.append("second committed")

    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(5)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive(), "the second load must wait for the first to finish"
    release.set()
    one.join(5)
    two.join(10)
    assert order == ["first committed", "second committed"]


def test_summary_clips_kilometres_to_departement_boundaries_when_loaded(
    conn, sample_delivery, admin_cvl
):
    from recor.maps.boundaries import read_boundaries
    from recor.registry.reference import write_reference

    registry.load_delivery(conn, sample_delivery, BatchInfo())
    halves = registry.summarise(conn)
    areas = read_boundaries(admin_cvl / "departements.geojson", "departements")
    write_reference(conn, areas, kind="departements", source_file="departements.geojson",
                    sha256="-", source_crs="EPSG:4326")  # fmt: skip
    clipped = registry.summarise(conn)
    assert "clipped" in clipped.departement_method and "half" in halves.departement_method
    assert set(clipped.km_by_departement) == {"18", "28", "36", "37", "41", "45"}
    # The sample lies inside the region: clipping keeps (almost) every kilometre.
    total = sum(halves.km_by_departement.values())
    assert sum(clipped.km_by_departement.values()) == pytest.approx(total, rel=0.01)
    # Both methods agree on the broad split; they differ only along the borders.
    for code, km in clipped.km_by_departement.items():
        assert km == pytest.approx(halves.km_by_departement[code], rel=0.35)


def _shifted(delivery: Delivery, dx: float, rows: slice | None = None) -> Delivery:
    """The same delivery with geometries moved by dx metres (all rows, or some segments)."""
    sites, segments = delivery.sites.copy(), delivery.segments.copy()
    if rows is None:
        sites["geometry"] = sites.geometry.translate(dx)
        segments["geometry"] = segments.geometry.translate(dx)
    else:
        moved = segments.geometry.iloc[rows].translate(0, dx)
        segments.loc[segments.index[rows], "geometry"] = moved
    return Delivery(sites, segments, delivery.risk_groups, delivery.segment_risk_groups)


def test_geometries_moved_by_a_format_round_trip_are_unchanged(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    again = registry.load_delivery(conn, _shifted(sample_delivery, 1e-7), BatchInfo())
    assert not again.changes_anything()
    assert again.counts()["segments"]["unchanged"] == len(sample_delivery.segments)


def test_a_geometry_moved_beyond_the_tolerance_is_a_change(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    interior = sample_delivery.segments.copy()
    line = interior.geometry.iloc[0]
    coords = list(line.coords)
    coords[1] = (coords[1][0], coords[1][1] + 0.5)
    interior.loc[interior.index[0], "geometry"] = type(line)(coords)
    moved = Delivery(sample_delivery.sites, interior, None, None)
    summary = registry.load_delivery(conn, moved, BatchInfo())
    assert summary.segments.changed == [interior["code"].iloc[0]]


def test_a_dry_run_refuses_what_the_real_load_would_refuse(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    kept = sample_delivery.sites[sample_delivery.sites["code"] != "POP-TOURS"]
    without = Delivery(kept, sample_delivery.segments.iloc[:0], None, None)
    scope = ReplaceScope(code_prefix="POP-TOURS")
    with pytest.raises(RegistryError, match="retired site"):
        registry.load_delivery(conn, without, BatchInfo(), replace_scope=scope, dry_run=True)
    with pytest.raises(RegistryError, match="retired site"):
        registry.load_delivery(conn, without, BatchInfo(), replace_scope=scope)


def test_texts_dates_counts_and_extra_arrive_exactly_as_delivered(conn, sample_delivery):
    """Staging is a text COPY built column by column: its escaping must be exact."""
    segments = sample_delivery.segments.copy()
    tricky = 'back\\slash\ttab\nnewline\rreturn \\N "quoted" é€ \\\\x00'
    segments["cable_type"] = segments["cable_type"].astype(object)
    segments.loc[0, "cable_type"] = tricky
    segments.loc[1, "cable_type"] = None
    segments["extra"] = [{} for _ in range(len(segments))]
    segments.at[0, "extra"] = {"note": 'a\\b\nc\t"d"', "n": [1, 2.5, None]}
    segments["fibre_count"] = segments["fibre_count"].astype(object)
    segments.loc[0, ["fibre_count", "fibres_used"]] = [None, None]
    segments.loc[1, "commissioned_on"] = None
    delivery = Delivery(sample_delivery.sites, segments, sample_delivery.risk_groups,
                        sample_delivery.segment_risk_groups)  # fmt: skip
    registry.load_delivery(conn, delivery, BatchInfo())
    codes = list(segments["code"].iloc[:2])
    rows = {
        code: rest
        for code, *rest in conn.execute(
            "SELECT code, cable_type, extra, fibre_count, fibres_used, commissioned_on"
            " FROM recor.segments WHERE code = ANY(%s)",
            (codes,),
        ).fetchall()
    }
    first, second = rows[codes[0]], rows[codes[1]]
    assert first[:4] == [tricky, {"note": 'a\\b\nc\t"d"', "n": [1, 2.5, None]}, None, None]
    assert str(first[4]) == str(sample_delivery.segments.loc[0, "commissioned_on"])[:10]
    assert second[0] == ""
    assert second[4] is None


def test_findings_given_late_are_recorded_before_the_batch_closes(conn, sample_delivery):
    """An import's last checks report while the rows load: their findings join the batch."""
    late = ({"severity": "warning", "rule": "TOPO-CROSSING", "code": "T-1"},)
    summary = registry.load_delivery(conn, sample_delivery, BatchInfo(), findings=lambda: late)
    row = conn.execute(
        "SELECT findings FROM recor.import_batches WHERE id = %s", (summary.batch_id,)
    ).fetchone()
    assert row is not None and row[0] == [dict(f) for f in late]
    with pytest.raises(RegistryError, match="either in info or later"):
        registry.load_delivery(
            conn, sample_delivery, BatchInfo(findings=late), findings=lambda: late
        )
