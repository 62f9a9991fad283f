"""Geographic context on every map: current communes, EPCI, names by zoom, one ranked search.

Reads the real boundaries and the official geographic code of Centre-Val de Loire
(``../shared/data/admin-cvl``): 1,776 commune polygons of 2018 against 1,754 current
communes, 22 merged since.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest

from recor.cli import main
from recor.errors import ImportRefused
from recor.maps.boundaries import read_boundaries, read_cog_csv
from recor.maps.browser import Browser
from recor.maps.territory import reconcile
from recor.registry import Delivery
from tests.maps.conftest import BOUNDARY_KINDS, load_registry, open_and_check


@pytest.fixture(scope="module")
def territory(admin_cvl: Path):
    polygons = read_boundaries(admin_cvl / "communes.geojson", "communes")
    arrondissements = read_boundaries(admin_cvl / "arrondissements.geojson", "arrondissements")
    cog = read_cog_csv(admin_cvl / "cog-communes.csv")
    return polygons, cog, reconcile(polygons, cog, arrondissements=arrondissements)


def test_merged_communes_are_reconciled_and_reported(territory) -> None:
    polygons, cog, result = territory
    current = cog[cog["type"] == "commune-actuelle"]
    assert len(result.communes) == len(current) == 1754
    assert set(result.communes["code"]) == set(current["code"])
    report = result.reconciliation
    assert len(report) == len(polygons) - len(current) == 22
    # delegated communes go to the commune the code names as theirs
    delegated = report[report["match"] == "commune-deleguee"]
    parents = cog.drop_duplicates("code", keep="last").set_index("code")["parent"]
    assert (
        delegated["current_code"].to_numpy() == parents[delegated["polygon_code"]].to_numpy()
    ).all()
    # codes gone from the COG are attached to a bordering current commune of their département
    gone = report[report["match"] == "border"]
    assert len(gone) == 7 and not gone["polygon_code"].isin(cog["code"]).any()
    by_code = polygons.set_index("code").geometry
    for row in gone.itertuples():
        assert row.current_code[:2] == row.polygon_code[:2]
        assert by_code[row.polygon_code].touches(by_code[row.current_code]) or by_code[
            row.polygon_code
        ].intersects(by_code[row.current_code])
    # a merged commune is the union of its polygons: its area is theirs
    merged = report.groupby("current_code")["polygon_code"].apply(list)
    communes = result.communes.set_index("code")
    for code, members in merged.items():
        expected = by_code[[code, *members]].area.sum()
        assert communes.geometry[code].area == pytest.approx(expected, rel=2e-3)
    assert "22 communes des contours fusionnées" in result.summary_fr()


def test_epci_are_the_union_of_their_members_with_their_population(territory) -> None:
    _, cog, result = territory
    epcis = result.epcis.set_index("code")
    members = cog[(cog["type"] == "commune-actuelle") & cog["epci_code"].notna()]
    expected = members.groupby("epci_code")["population"].sum()
    assert set(epcis.index) == set(expected.index)
    assert (epcis["population"].astype(int) == expected.reindex(epcis.index)).all()
    tours = epcis[epcis["name"].str.contains("Tours Métropole")].iloc[0]
    assert tours["communes"] == 22


def test_chief_towns_are_the_arrondissements_chief_towns(territory) -> None:
    _, _, result = territory
    chiefs = set(result.communes.loc[result.communes["chief_town"], "name"])
    assert {"Orléans", "Tours", "Bourges", "Le Blanc", "La Châtre", "Loches"} <= chiefs
    assert len(chiefs) == 20
    zooms = result.communes.set_index("name")["label_zoom"]
    assert zooms["Orléans"] == 7 and zooms["Loches"] == 7
    assert zooms["Joué-lès-Tours"] < zooms["Achères"]


def test_cog_file_with_a_bad_population_is_refused_naming_line_and_field(
    tmp_path: Path, admin_cvl: Path
) -> None:
    lines = (admin_cvl / "cog-communes.csv").read_text("utf-8").splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[7], "beaucoup", 1)
    bad = tmp_path / "cog.csv"
    bad.write_text("\n".join(lines), "utf-8")
    code = lines[5].split(",")[0]
    with pytest.raises(ImportRefused, match=rf"cog.csv line 6 \(code={code}\): population"):
        read_cog_csv(bad)


def search(browser: Browser, query: str) -> list[dict]:
    return browser.evaluate(f"window.recorMap.search({query!r})")


def typed(browser: Browser, query: str) -> list[str]:
    """What the search box lists for a query typed in it."""
    browser.evaluate(
        "(() => { const i = document.querySelector('.recor-search input');"
        f" i.value = {query!r}; i.dispatchEvent(new Event('input')); }})()"
    )
    return browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-results > *')).map(b => b.textContent)"
    )


def labels_shown(browser: Browser) -> list[str]:
    return browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-label-text')).map(e => e.textContent)"
    )


@pytest.mark.db
@pytest.mark.browser
@pytest.mark.slow
def test_every_map_has_context_and_one_ranked_search(
    conn,
    registry_url: str,
    sample_delivery: Delivery,
    admin_cvl: Path,
    browser: Browser,
    artifacts: Path,
    tmp_path: Path,
    capsys,
) -> None:
    kinds = (*BOUNDARY_KINDS, "arrondissements")
    db = load_registry(conn, registry_url, sample_delivery, admin_cvl, kinds, cog=True)
    assert main([*db, "map", "all", "--out", str(tmp_path)]) == 0
    ends = ["--from", "DC-ORLEANS", "--to", "DC-TOURS"]
    assert main([*db, "map", "route", *ends, "--out", str(tmp_path / "route.html")]) == 0
    group = ["--group", "BRIDGE-ORLEANS-LOIRE"]
    assert main([*db, "map", "whatif", *group, "--out", str(tmp_path / "whatif.html")]) == 0
    capsys.readouterr()
    for name in ("network", "coverage", "redundancy", "route", "whatif"):
        path = tmp_path / f"{name}.html"
        report = open_and_check(browser, path, artifacts)
        assert report.counts["reference-epci"] == 82, name
        assert report.counts["labels"] == 1754, name
        # ranked: the commune named exactly comes before the sites that contain its name
        found = search(browser, "Amboise")
        assert found[0]["text"] == "Amboise" and found[0]["detail"].startswith(
            "Commune · 37003 · Indre-et-Loire (37)"
        ), (name, found)
        assert any(f["text"] == "PoP Amboise" for f in found), (name, found)
        assert search(browser, "loches")[0]["text"] == "Loches", name
        assert search(browser, "37132")[0]["text"] == "Loches", name
        assert search(browser, "Tours Métropole")[0]["detail"].startswith("EPCI"), name
        assert search(browser, "POP-AMBOISE")[0]["text"] == "PoP Amboise", name
        # homonyms are told apart by their INSEE code and département
        homonyms = [f for f in search(browser, "Villeneuve") if f["text"].startswith("Ville")]
        assert len({f["detail"] for f in homonyms}) == len(homonyms), homonyms
        assert typed(browser, "zzzz") == ["Aucun résultat"]
        # names by zoom: chief towns at the regional view, small communes when zoomed in
        browser.evaluate("window.recorMap.map.setView([47.6, 1.7], 7, {animate: false}) && 0")
        regional = labels_shown(browser)
        assert "Orléans" in regional and "Loches" in regional, (name, regional)
        assert "Achères" not in regional and len(regional) <= 40, name
        browser.evaluate(
            "(() => { const l = window.recorMap.layers.labels;"
            " const i = l.columns.name.indexOf('Achères');"
            " window.recorMap.map.setView(l.latlngs[i], 13, {animate: false}); })()"
        )
        assert "Achères" in labels_shown(browser), name
    browser.open_map(tmp_path / "network.html")
    typed(browser, "Loches")
    browser.evaluate("document.querySelector('.recor-result').click()")
    popup = browser.evaluate("document.querySelector('.leaflet-popup-content').textContent")
    assert "37132" in popup and "Indre-et-Loire (37)" in popup and "Population" in popup
    browser.screenshot(artifacts / "search_loches.png")
    provenance = browser.evaluate("document.body.textContent")
    assert "22 communes des contours fusionnées" in provenance
    units = pd.read_csv(tmp_path / "coverage_units.csv", comment="#", dtype={"code": str})
    assert len(units) == 1754 and units["population"].notna().all()
    check_territory_tables(browser, tmp_path, admin_cvl)


def table_rows(browser: Browser, index: int) -> list[list[str]]:
    return browser.evaluate(
        f"Array.from(document.querySelectorAll('.recor-table-view')[{index}]"
        ".querySelectorAll('tbody tr')).map(r => Array.from(r.children).map(c => c.textContent))"
    )


def check_territory_tables(browser: Browser, folder: Path, admin_cvl: Path) -> None:
    """The coverage map's tables: départements, EPCI, communes; sortable, searchable, and
    downloadable as CSV from the page itself (a data: link, no request)."""
    report = browser.open_map(folder / "coverage.html")
    tabs = browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-tab')).map(t => t.textContent)"
    )
    assert tabs == ["Départements", "EPCI", "Communes"]
    assert len(table_rows(browser, 1)) == 82 and len(table_rows(browser, 2)) == 1754
    browser.evaluate("document.querySelectorAll('.recor-tab')[1].click()")
    # sort by population, twice for descending
    for _ in range(2):
        browser.evaluate(
            "Array.from(document.querySelectorAll('.recor-table-view')[1].querySelectorAll('th'))"
            ".find(th => th.textContent === 'Population').click()"
        )
    top = table_rows(browser, 1)[0]
    cog = pd.read_csv(admin_cvl / "cog-communes.csv", dtype={"code": str, "epci_code": str})
    current = cog[cog["type"] == "commune-actuelle"]
    totals = current.groupby("epci_nom")["population"].sum().sort_values(ascending=False)
    assert top[0] == totals.index[0]
    assert int(top[3].replace("\u202f", "").replace("\xa0", "")) == int(totals.iloc[0])
    # population within 1 km, recomputed from the per-commune CSV written by map all
    units = pd.read_csv(folder / "coverage_units.csv", comment="#", dtype={"code": str})
    members = units[units["epci_name"] == totals.index[0]]
    near = int(members.loc[members["dist_network_m"] <= 1000, "population"].sum())
    assert int(top[4].replace("\u202f", "").replace("\xa0", "")) == near
    # search inside the communes table, then download what is shown
    browser.evaluate(
        "(() => { const i = document.querySelectorAll('.recor-table-view')[2]"
        ".querySelector('input'); i.value = 'loches'; i.dispatchEvent(new Event('input')); })()"
    )
    shown = table_rows(browser, 2)
    assert {row[0] for row in shown} >= {"Loches", "Beaulieu-lès-Loches"}
    assert all("loches" in " ".join(row).lower() for row in shown)
    href = browser.evaluate(
        "document.querySelectorAll('.recor-table-view')[2].querySelector('a.recor-csv').href"
    )
    assert href.startswith("data:text/csv;charset=utf-8,")
    text = unquote(href.split(",", 1)[1]).lstrip("\ufeff")
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("Commune;Code INSEE;Département;EPCI;Population")
    assert len(lines) == len(shown) + 1
    loches = next(line for line in lines if line.startswith("Loches;"))
    assert loches.split(";")[1] == "37132"
    after = browser.collect(report)
    assert set(after.requests) <= {report.url}, after.requests
