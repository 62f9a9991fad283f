"""Print layout (A4 landscape, no controls, everything a review document needs) and the
``--pdf``/``--png`` exports through headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recor import registry
from recor.cli import main
from recor.maps import network_map
from recor.maps.browser import Browser
from recor.registry import BatchInfo, Delivery

pytestmark = pytest.mark.browser

HIDDEN = (".leaflet-control-zoom", ".leaflet-control-layers", ".recor-search")
SHOWN = (".recor-title", ".recor-legend", ".recor-north", ".leaflet-control-scale")


def displayed(browser: Browser, selector: str) -> bool:
    return browser.evaluate(
        f"(() => {{ const e = document.querySelector({selector!r});"
        " return !!e && getComputedStyle(e).display !== 'none'"
        " && e.getBoundingClientRect().width > 0; })()"
    )


def test_print_layout_hides_controls_and_shows_legend_provenance_scale_and_north(
    sample_delivery: Delivery, browser: Browser, tmp_path: Path
) -> None:
    path = network_map(sample_delivery.sites, sample_delivery.segments, version="lot 7").write(
        tmp_path / "network.html"
    )
    assert browser.open_map(path).ready
    titles = browser.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-zoom a')).map(a => a.title)"
    )
    assert titles == ["Zoom avant", "Zoom arrière"]
    for selector in (*HIDDEN, *SHOWN):
        assert displayed(browser, selector), selector
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    browser.evaluate("window.dispatchEvent(new Event('beforeprint')) && 0")
    try:
        for selector in HIDDEN:
            assert not displayed(browser, selector), selector
        for selector in SHOWN:
            assert displayed(browser, selector), selector
        # every folded box is open and nothing is cut by a scroll bar
        boxes = browser.evaluate(
            "Array.from(document.querySelectorAll('details.recor-box'))"
            ".map(d => [d.open, d.scrollHeight <= d.clientHeight + 1])"
        )
        assert boxes and all(open_ and whole for open_, whole in boxes), boxes
        text = browser.evaluate("document.body.innerText")
        assert "Version des données" in text and "lot 7" in text and "Carte générée le" in text
        assert re.search(
            r"Carte générée le : \d\d/\d\d/20\d\d à \d\d:\d\d \(heure de Paris\)", text
        )
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""})


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", data)
    return [(float(w), float(h)) for w, h in boxes]


@pytest.mark.db
@pytest.mark.slow
def test_map_command_prints_a4_landscape_pdf_and_png(
    conn, registry_url: str, sample_delivery: Delivery, tmp_path: Path, capsys
) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    db = ["--database-url", registry_url]
    pdf, png = tmp_path / "reseau.pdf", tmp_path / "reseau.png"
    page = tmp_path / "network.html"
    assert (
        main([*db, "map", "network", "--out", str(page), "--pdf", str(pdf), "--png", str(png)]) == 0
    )
    printed = capsys.readouterr().out.split()
    assert str(pdf) in printed and str(png) in printed
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = pdf_pages(data)
    assert len(pages) == 1
    width, height = pages[0]
    assert width == pytest.approx(841.9, abs=1) and height == pytest.approx(595.3, abs=1)
    image = png.read_bytes()
    assert image.startswith(b"\x89PNG")
    png_width = int.from_bytes(image[16:20], "big")
    png_height = int.from_bytes(image[20:24], "big")
    assert png_width > png_height  # landscape
    assert main([*db, "map", "all", "--pdf", str(pdf)]) == 2
    assert "name its kind" in capsys.readouterr().err
    assert main([*db, "map", "network", "--out", str(page), "--pdf", str(tmp_path / "x.png")]) == 2
    assert "expected a .pdf file" in capsys.readouterr().err
