"""Every user command on registries loaded with real-looking deliveries.

Two registries, each loaded through ``recor import``: the bundled sample plus the messy FTTH
delivery of the Cher (its profile ``gis_data/profiles/ftth-cher.yaml``), and the bundled
sample plus the real GraceTHD demo delivery after its documented fix, accepted as a draft. On
each, every command — summary, route, diverse, redundancy, whatif, coverage, every map kind
internal and public — runs through ``recor.cli.main`` and its output is checked against the
loaded data: no NaN or None printed, unknown fibre usage said to be unknown, counts equal to
the registry's own.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from recor import registry
from recor.ingest.gracethd_checks import WAIVED
from recor.maps._vendor import ASSETS
from recor.sample_messy import build_messy, write_messy
from tests.conftest import _drop_database
from tests.gracethd_demo import fix_demo
from tests.real_data import PROFILES, Run, new_registry, recor, sample_gpkg, suspicious_text

pytestmark = [pytest.mark.db, pytest.mark.slow]

#: The messy delivery's NRO of Bourges, its trunk to POP-BOURGES, and a datacentre.
NRO = "THD18:NRO-18033"
TRUNK = "THD18:CB-00001"


def _drop(url: str) -> None:
    _drop_database(str(psycopg.conninfo.conninfo_to_dict(url)["dbname"]))


def _ok(run: Run) -> str:
    assert run.code == 0, f"exit {run.code}\n{run.err[-3000:]}"
    assert not suspicious_text(run.out), (suspicious_text(run.out), run.out[-3000:])
    return run.out


@pytest.fixture(scope="module")
def messy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The messy FTTH delivery, written once."""
    return write_messy(build_messy(), tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def messy_url(postgis_url: str, messy_files: dict[str, Path]) -> Iterator[str]:
    """The bundled sample, then the messy FTTH delivery with its profile."""
    url = new_registry(postgis_url, "messy")
    _ok(recor(url, "import", str(sample_gpkg()), "--quiet"))
    loaded = recor(
        url, "import", str(messy_files["gpkg"]), str(messy_files["geojson"]),
        "--profile", str(PROFILES / "ftth-cher.yaml"), "--json",
    )  # fmt: skip
    assert loaded.code == 0, loaded.err
    yield url
    _drop(url)


@pytest.fixture(scope="module")
def gracethd_url(postgis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled sample, then the GraceTHD demo delivery after its documented fix, accepted
    as a draft by its profile (``gracethd_draft``: its missing values stay unknown)."""
    url = new_registry(postgis_url, "gthd")
    _ok(recor(url, "import", str(sample_gpkg()), "--quiet"))
    folder = fix_demo(tmp_path_factory.mktemp("gracethd") / "demo")
    report = tmp_path_factory.getbasetemp() / "gracethd-report" / "rapport.html"
    report.parent.mkdir(exist_ok=True)
    loaded = recor(
        url, "import", str(folder), "--profile", str(PROFILES / "gracethd-demo01.yaml"),
        "--json", "--report", str(report),
    )  # fmt: skip
    assert loaded.code == 0, loaded.err
    yield url
    _drop(url)


@pytest.fixture(scope="module", params=["messy", "gracethd"])
def loaded(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(name, url) of each loaded registry."""
    return request.param, request.getfixturevalue(f"{request.param}_url")


def _snapshot(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    with registry.connect(url, autocommit=True) as conn:
        return registry.read_sites(conn), registry.read_segments(conn)


def _pair(name: str) -> tuple[str, str]:
    """Two in-service sites joined by a path through the delivery, one of the delivery's own."""
    if name == "messy":
        return NRO, "DC-BOURGES"
    return "DC-ORLEANS", "DC-TOURS"


# -- summary ---------------------------------------------------------------------------------


def test_summary_counts_what_was_loaded(loaded: tuple[str, str]) -> None:
    _name, url = loaded
    sites, segments = _snapshot(url)
    out = _ok(recor(url, "summary"))
    assert f"{len(segments)} segments" in out
    for kind, count in sites["kind"].value_counts().items():
        assert f"{kind:<20} {count:>6}" in out or (f"{kind} " in out and str(count) in out)
    as_json = json.loads(_ok(recor(url, "summary", "--json")))
    assert "NaN" not in json.dumps(as_json)
    unknown = int(segments["fibre_count"].isna().sum())
    if unknown:
        assert "unknown" in out.lower() or "inconnu" in out.lower(), (
            f"{unknown} segments of unknown fibre count, the summary does not say so:\n{out}"
        )


def test_import_list_names_both_batches(loaded: tuple[str, str]) -> None:
    name, url = loaded
    out = _ok(recor(url, "import", "list"))
    assert "recor" in out and ("ftth-cher" if name == "messy" else "gracethd-demo01") in out


# -- route, diverse --------------------------------------------------------------------------


def test_route_over_unknown_usage_says_free_fibres_are_unknown(messy_url: str) -> None:
    """NRO --trunk-- POP-BOURGES: a route from a box whose cables have unknown usage."""
    sites, segments = _snapshot(messy_url)
    live = segments[segments["status"] == "in_service"]
    site_status = sites.set_index("code")["status"]
    unknown = live[
        live["fibres_used"].isna()
        & live["site_b"].map(site_status).eq("in_service")
        & live["site_a"].map(site_status).eq("in_service")
        & live["code"].str.startswith("THD18:")
    ]
    target = unknown["site_b"].iloc[0]
    out = _ok(recor(messy_url, "route", NRO, target))
    assert NRO in out and target in out
    assert "unknown" in out.lower() or "inconnu" in out.lower(), out
    as_json = recor(messy_url, "route", NRO, target, "--json").out
    assert "NaN" not in as_json
    route = json.loads(as_json)
    assert "free" in json.dumps(route)


def test_route_and_k_routes_between_delivery_and_region(loaded: tuple[str, str]) -> None:
    name, url = loaded
    source, target = _pair(name)
    out = _ok(recor(url, "route", source, target, "--k", "2", "--all-statuses"))
    assert source in out and target in out and "Data: batch" in out


def test_route_to_an_unknown_site_is_a_clear_refusal(messy_url: str) -> None:
    run = recor(messy_url, "route", NRO, "THD18:NOWHERE")
    assert run.code == 2 and "THD18:NOWHERE" in run.err and "Traceback" not in run.err


@pytest.mark.parametrize("level", ["edge", "node", "srlg"])
def test_diverse_pair_from_the_delivery(loaded: tuple[str, str], level: str) -> None:
    name, url = loaded
    source, target = _pair(name)
    out = _ok(recor(url, "diverse", source, target, "--level", level, "--all-statuses"))
    assert "primary" in out and f"level {level}" in out


# -- redundancy, whatif ----------------------------------------------------------------------


@pytest.mark.parametrize("level", ["edge", "srlg"])
def test_redundancy(loaded: tuple[str, str], level: str) -> None:
    name, url = loaded
    out = _ok(recor(url, "redundancy", "--level", level))
    assert "Data: batch" in out
    if name == "messy":
        # the NRO hangs on one trunk: a single-homed site of the delivery is listed
        assert "THD18:" in out


def test_whatif_trunk_cut_isolates_the_nro_tree(messy_url: str) -> None:
    out = _ok(recor(messy_url, "whatif", "--segment", TRUNK, "--core", "DC-BOURGES"))
    assert NRO in out or "THD18:" in out
    assert "sites cut off the core: none" not in out


def test_whatif_group_and_worst_disk(loaded: tuple[str, str]) -> None:
    _name, url = loaded
    out = _ok(recor(url, "whatif", "--group", "BRIDGE-ORLEANS-LOIRE"))
    assert "BRIDGE-ORLEANS-LOIRE" in out
    out = _ok(recor(url, "whatif", "--worst-disk", "3000"))
    assert "worst disk r=3000 m" in out


def test_gracethd_draft_is_said_and_its_own_network_keeps_its_unknowns(
    gracethd_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The demo's planned network (AVP), tied to nothing of the region: its batch says it was
    accepted as a draft; its routes say their free fibres are unknown (no cb_fo_util was
    delivered); cutting its ducts cuts no site off a core it never reached."""
    out = _ok(recor(gracethd_url, "import", "list"))
    assert "livraison acceptée en brouillon" in out and "472 constat(s) dérogé(s)" in out
    # the import report lists every waived finding, and its verdict says it was a draft
    report = tmp_path_factory.getbasetemp() / "gracethd-report"
    rows = list(csv.DictReader(
        (report / "rapport.csv").read_text(encoding="utf-8-sig").splitlines(), delimiter=";"
    ))  # fmt: skip
    waived = [r for r in rows if r["message"].endswith(WAIVED)]
    assert len(waived) == 472 and {r["severity"] for r in waived} == {"warning"}
    assert not [r for r in rows if r["severity"] == "error"]
    page = (report / "rapport.html").read_text(encoding="utf-8")
    assert "Livraison acceptée en brouillon" in page and "472 constat(s)" in page
    nro, premises = "TCN:ND000180030001", "TCN:ND000180031292"
    out = _ok(recor(gracethd_url, "route", nro, premises, "--all-statuses"))
    assert "free fibres unknown" in out and "its bottleneck is unknown" in out
    run = recor(gracethd_url, "route", nro, premises)  # planned: not in the in-service graph
    assert run.code == 2 and nro in run.err and "Traceback" not in run.err
    out = _ok(recor(gracethd_url, "redundancy", "--all-statuses"))
    assert (
        "shared-risk group TCN:CD:CD001800325981 splits the network (TCN:CM000180032598, "
        "TCN:CM200180032598); sites cut off the core: none (its segments had no path to the "
        "core already)"
    ) in out
    assert "BRIDGE-ORLEANS-LOIRE splits the network (SEG-0146, SEG-0155); sites cut off the " \
        "core: none (each part keeps a core site)" in out  # fmt: skip
    out = _ok(recor(gracethd_url, "whatif", "--segment", "TCN:CM000180033570", "--all-statuses"))
    assert "sites cut off the core: none (its segments had no path to the core already)" in out
    with registry.connect(gracethd_url, autocommit=True) as conn:
        ours = registry.read_segments(conn, status=None)
        ours = ours[ours["code"].str.startswith("TCN:")]
    assert len(ours) == 25 and ours["fibres_used"].isna().all()
    assert set(ours["status"]) == {"planned"}


# -- coverage --------------------------------------------------------------------------------


def test_coverage_writes_csv_without_unknown_as_numbers(
    loaded: tuple[str, str], tmp_path: Path
) -> None:
    _name, url = loaded
    out = _ok(recor(url, "coverage", "--out", str(tmp_path)))
    files = sorted(tmp_path.glob("*.csv"))
    assert files, out
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        assert not suspicious_text(text), (path.name, suspicious_text(text))
        rows = list(csv.reader(text.splitlines(), delimiter=";" if ";" in text[:200] else ","))
        assert len(rows) > 1


# -- maps ------------------------------------------------------------------------------------

#: Code inlined verbatim in every page (Leaflet calls ``isNaN``): not data, left out of the check.
_INLINED_CODE = tuple(
    (ASSETS / name).read_text("utf-8")
    for name in ("leaflet.js", "recor-map.js", "leaflet.css", "recor-map.css")
)


def _page_data(page: str) -> str:
    """The page without its inlined library code and the content-security hashes (base64
    digests of the page's own scripts, which may spell "NaN" by chance): layers, spec,
    popups, legends, tables."""
    for code in _INLINED_CODE:
        assert code in page, "a vendored asset is no longer inlined verbatim"
        page = page.replace(code, "")
    return re.sub(r"sha256-[A-Za-z0-9+/]+=*", "sha256-", page)


def _assert_no_leak(page: str, name: str = "") -> None:
    """No unknown value reaches the page as NaN, "nan" or "None" (JSON carries null)."""
    data = _page_data(page)
    for word in ("NaN", '"nan"', '"None"', "Infinity"):
        assert word not in data, (name, word, data[max(0, data.find(word) - 200) :][:400])


def _map_page(url: str, tmp_path: Path, *argv: str) -> str:
    target = tmp_path / f"{argv[0]}.html"
    out = _ok(recor(url, "map", *argv, "--out", str(target)))
    assert str(target) in out and target.exists()
    page = target.read_text(encoding="utf-8")
    _assert_no_leak(page, target.name)
    return page


@pytest.mark.parametrize("level", ["--internal", "--public"])
@pytest.mark.parametrize("kind", ["network", "coverage"])
def test_network_and_coverage_maps(
    loaded: tuple[str, str], tmp_path: Path, kind: str, level: str
) -> None:
    name, url = loaded
    page = _map_page(url, tmp_path, kind, level)
    delivered = NRO if name == "messy" else "TCN:"
    if kind == "network" and level == "--internal":
        assert delivered in page
    if level == "--public":
        assert "CHATON-VENDOME" not in page  # CHATON nodes are coarsened, not named by code


def test_analysis_maps_internal(loaded: tuple[str, str], tmp_path: Path) -> None:
    name, url = loaded
    source, target = _pair(name)
    _map_page(url, tmp_path, "redundancy")
    page = _map_page(url, tmp_path, "route", "--from", source, "--to", target)
    assert source in page and target in page
    cut = TRUNK if name == "messy" else "SEG-0001"
    assert cut in _map_page(url, tmp_path, "whatif", "--segment", cut)


@pytest.mark.parametrize("kind", ["redundancy", "route", "whatif"])
def test_analysis_maps_are_refused_public(messy_url: str, tmp_path: Path, kind: str) -> None:
    run = recor(messy_url, "map", kind, "--public", "--out", str(tmp_path / "x.html"))
    assert run.code == 2 and "internal only" in run.err


@pytest.mark.parametrize("level", ["--internal", "--public"])
def test_all_maps(loaded: tuple[str, str], tmp_path: Path, level: str) -> None:
    _name, url = loaded
    out = _ok(recor(url, "map", "all", level, "--out", str(tmp_path)))
    pages = sorted(tmp_path.glob("*.html"))
    assert pages and all(str(p) in out for p in pages)
    for page in pages:
        _assert_no_leak(page.read_text(encoding="utf-8"), page.name)
