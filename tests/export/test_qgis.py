"""QGIS project: opened by PyQGIS (headless), every layer valid, counts as in the registry."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
import shapely
from psycopg import sql

from recor import registry
from recor.cli import main
from recor.domain import SITE_KIND_LABELS_FR
from recor.export import qgis
from recor.maps.styles import SITE_SYMBOLS, STATUS_COLOURS
from recor.registry import Delivery
from recor.registry.export_read import count_rows
from tests.export.builders import load

pytestmark = [pytest.mark.db, pytest.mark.slow]

SYSTEM_PYTHON = "/usr/bin/python3"
CHECK = Path(__file__).with_name("qgis_check.py")
AREA = shapely.box(600_000, 6_740_000, 640_000, 6_780_000)


@pytest.fixture(scope="session")
def pyqgis() -> str:
    """Debian's Python with PyQGIS (python3-qgis); fails on CI when missing, skips locally."""
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    ) if Path(SYSTEM_PYTHON).exists() else None  # fmt: skip
    if probe is None or probe.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("QGIS export tests cannot run on CI: python3-qgis is not installed")
        pytest.skip("python3-qgis not installed")
    return SYSTEM_PYTHON


def open_in_qgis(pyqgis: str, project: Path, tmp_path: Path, env: dict | None = None) -> dict:
    """What PyQGIS sees in ``project`` (see qgis_check.py)."""
    environ = dict(os.environ if env is None else env)
    environ |= {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
                "XDG_RUNTIME_DIR": str(tmp_path)}  # fmt: skip
    environ.pop("PGPASSWORD", None)
    done = subprocess.run(
        [pyqgis, str(CHECK), str(project)],
        capture_output=True, text=True, env=environ, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def history_registry(registry_url, sample_delivery):
    """The sample, then a second batch changing one segment; a départements reference layer."""
    with registry.connect(registry_url, autocommit=True) as conn:
        load(conn, sample_delivery)
        first = datetime.now(UTC)
        segments = sample_delivery.segments.copy()
        segments.loc[segments["code"] == "SEG-0001", "status"] = "out_of_service"
        load(conn, Delivery(sample_delivery.sites, segments, sample_delivery.risk_groups,
                            sample_delivery.segment_risk_groups))  # fmt: skip
        areas = gpd.GeoDataFrame(
            {"code": ["45"], "name": ["Loiret"]},
            geometry=[shapely.MultiPolygon([shapely.box(560e3, 6.70e6, 720e3, 6.83e6)])],
            crs=2154,
        )
        registry.write_reference(conn, areas, kind="departements", source_file="test",
                                 sha256="0" * 64, source_crs="EPSG:2154")  # fmt: skip
    return registry_url, first


def _by_id(seen: dict) -> dict[str, dict]:
    return {layer["id"]: layer for layer in seen["layers"]}


def test_project_opens_with_every_layer_valid_read_only_and_counted(
    history_registry, pyqgis, tmp_path
):
    url, _ = history_registry
    out = tmp_path / "recor.qgz"
    assert main(["--database-url", url, "export", "qgis", str(out)]) == 0
    seen = open_in_qgis(pyqgis, out, tmp_path)

    assert seen["opened"] and seen["crs"] == "EPSG:2154"
    layers = _by_id(seen)
    assert all(layer["valid"] and layer["read_only"] for layer in layers.values())
    with registry.connect(url, autocommit=True) as conn:
        assert layers["recor_sites"]["count"] == len(registry.read_sites(conn))
        assert layers["recor_segments"]["count"] == len(registry.read_segments(conn))
        assert layers["recor_risk_groups"]["count"] == len(registry.read_risk_groups(conn))
        for layer, relation in (("recor_site_versions", "site_versions"),
                                ("recor_segment_versions", "segment_versions"),
                                ("recor_import_batches", "import_batches")):  # fmt: skip
            assert layers[layer]["count"] == count_rows(conn, relation)
    assert layers["recor_segment_versions"]["count"] == layers["recor_segments"]["count"] + 1
    assert layers["recor_reference_departements"]["count"] == 1
    assert layers["recor_site_versions"]["temporal"]


def test_project_speaks_french_and_draws_like_the_maps(history_registry, pyqgis, tmp_path):
    url, _ = history_registry
    out = tmp_path / "recor.qgz"
    assert main(["--database-url", url, "export", "qgis", str(out)]) == 0
    seen = open_in_qgis(pyqgis, out, tmp_path)
    layers = _by_id(seen)

    sites, segments = layers["recor_sites"], layers["recor_segments"]
    assert sites["renderer"] == "categorizedSymbol" and sites["labels"]
    assert {"Centre de données", "Nœud CHATON", "Point de présence"} <= set(sites["legend"])
    assert segments["renderer"] == "RuleRenderer"
    assert {"En service", "En projet", "Capacité inconnue", "Plus de 144 fibres"} <= set(
        segments["legend"]
    )
    kinds = dict(sites["colours"])
    for kind, label in SITE_KIND_LABELS_FR.items():
        assert kinds[label] == SITE_SYMBOLS[kind]["fillColor"]
    line_colours = {colour for _, colour in segments["colours"]}
    assert line_colours == set(STATUS_COLOURS.values())
    assert sites["aliases"]["name"] == "Nom" and segments["aliases"]["fibre_count"] == (
        "Nombre de fibres"
    )
    assert layers["recor_reference_departements"]["name"] == "Départements"
    drawn = seen["drawn"]
    assert sum(n for colour, n in drawn.items() if colour != "#ffffff") > 1000
    assert drawn.get(SITE_SYMBOLS["pop"]["fillColor"], 0) > 0


def test_segments_are_related_to_their_end_sites(history_registry, pyqgis, tmp_path):
    url, _ = history_registry
    out = tmp_path / "recor.qgz"
    assert main(["--database-url", url, "export", "qgis", str(out)]) == 0
    relations = open_in_qgis(pyqgis, out, tmp_path)["relations"]
    assert sorted(r["pairs"][0][0] for r in relations) == ["site_a", "site_b"]
    for relation in relations:
        assert relation["valid"]
        assert relation["referencing"] == "recor_segments"
        assert relation["referenced"] == "recor_sites"
        assert relation["pairs"][0][1] == "code"


def test_as_of_and_area_layers_count_what_the_registry_had_there(
    history_registry, pyqgis, tmp_path
):
    url, first = history_registry
    with registry.connect(url, autocommit=True) as conn:
        past = qgis.plan_project(conn, as_of=first)
        around = qgis.plan_project(conn, area=AREA)
        then_segments = registry.read_segments(conn, as_of=first)
        sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    seen_past = _by_id(open_in_qgis(pyqgis, qgis.write_qgz(past, tmp_path / "p.qgz"), tmp_path))
    assert seen_past["recor_segments"]["valid"]
    assert seen_past["recor_segments"]["count"] == len(then_segments)
    assert "recor_risk_groups" not in seen_past
    seen_area = _by_id(open_in_qgis(pyqgis, qgis.write_qgz(around, tmp_path / "a.qgz"), tmp_path))
    assert seen_area["recor_sites"]["count"] == int(sites.intersects(AREA).sum())
    assert seen_area["recor_segments"]["count"] == int(segments.intersects(AREA).sum())


def test_no_password_is_written_and_a_service_is_kept(history_registry, pyqgis, tmp_path):
    url, _ = history_registry
    params = psycopg.conninfo.conninfo_to_dict(url)
    with_password = psycopg.conninfo.make_conninfo(url, password="s3cret-not-to-write")
    out = tmp_path / "secret.qgz"
    assert main(["--database-url", with_password, "export", "qgis", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    assert "s3cret" not in text and "password" not in text

    service_file = tmp_path / "pg_service.conf"
    host = os.environ.get("PGHOST", "127.0.0.1")
    user = os.environ.get("PGUSER", "postgres")
    service_file.write_text(
        f"[recor_test]\nhost={host}\nuser={user}\ndbname={params['dbname']}\n", "utf-8"
    )
    env = dict(os.environ) | {"PGSERVICEFILE": str(service_file), "PGSERVICE": "recor_test"}
    out = tmp_path / "service.qgz"
    done = subprocess.run(
        [*_recor(), "export", "qgis", str(out)], env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    assert "service='recor_test'" in text and "host=" not in text
    env_qgis = {k: v for k, v in env.items() if k not in ("PGHOST", "PGUSER", "PGDATABASE")}
    layers = _by_id(open_in_qgis(pyqgis, out, tmp_path, env_qgis))
    assert all(layer["valid"] for layer in layers.values())


def _recor() -> list[str]:
    import sys

    return [sys.executable, "-m", "recor"]


def test_a_reader_login_opens_every_layer(history_registry, pyqgis, tmp_path):
    """A login granted only ``recor_reader`` sees every layer (views included), read-only."""
    url, _ = history_registry
    role = f"recor_test_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE recor_reader").format(
            sql.Identifier(role)))  # fmt: skip
    try:
        reader_url = psycopg.conninfo.make_conninfo(url, user=role)
        out = tmp_path / "reader.qgz"
        assert main(["--database-url", reader_url, "export", "qgis", str(out)]) == 0
        env = dict(os.environ) | {"PGUSER": role}
        layers = _by_id(open_in_qgis(pyqgis, out, tmp_path, env))
        assert all(layer["valid"] and layer["read_only"] for layer in layers.values())
        assert layers["recor_risk_groups"]["count"] > 0
        assert f"user='{role}'" in layers["recor_sites"]["source"]
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
