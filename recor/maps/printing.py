"""Print a map page to PDF (A4 landscape) or PNG with headless Chromium, offline.

The page's own print layout (``@media print`` in ``assets/recor-map.css``: title, legend,
scale, north arrow, provenance with date; no controls) is what is printed: the page is
opened in :class:`recor.maps.browser.Browser` (nothing can leave the machine), laid out at
the printable size of an A4 landscape page, switched to print media, and captured.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

from recor.errors import ConfigurationError, RecorError
from recor.maps.browser import CHROMIUM, Browser

__all__ = ["A4_LANDSCAPE_PX", "print_map"]

#: The printable area of an A4 landscape page with 8 mm margins, in CSS pixels (96 dpi).
A4_LANDSCAPE_PX = (1062, 733)

#: A4 landscape in inches, margins 8 mm (Chromium's printToPDF units).
_PAPER = {"paperWidth": 11.69, "paperHeight": 8.27}
_MARGIN_IN = 8 / 25.4


def _check(target: Path | str | None, suffix: str) -> Path | None:
    if target is None:
        return None
    path = Path(target)
    if path.suffix.lower() != suffix:
        raise ConfigurationError(f"{path}: expected a {suffix} file")
    return path


def print_map(
    page: Path | str,
    *,
    pdf: Path | str | None = None,
    png: Path | str | None = None,
    chromium: str = CHROMIUM,
    timeout_s: float = 300.0,
) -> list[Path]:
    """Write the PDF and/or PNG of a map page in its print layout; returns the files.

    Raises
    ------
    ConfigurationError
        Chromium is not installed, or a target has the wrong suffix.
    RecorError
        The page did not draw.
    """
    pdf_path, png_path = _check(pdf, ".pdf"), _check(png, ".png")
    if not Path(chromium).exists():
        raise ConfigurationError(
            f"{chromium} not found: --png/--pdf need Chromium (scripts/setup-system.sh)"
        )
    written = []
    with Browser(chromium, timeout_s=timeout_s) as browser:
        width, height = A4_LANDSCAPE_PX
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": False},
        )
        report = browser.open_map(page, timeout_s=timeout_s)
        if not report.ready:
            raise RecorError(f"{page}: the map did not draw in {timeout_s:g} s")
        browser.call("Emulation.setEmulatedMedia", {"media": "print"})
        browser.evaluate("window.dispatchEvent(new Event('beforeprint')) && 0")
        browser.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        time.sleep(0.3)  # popups and tiles fade; the canvas redraws on the next frames
        if png_path is not None:
            written.append(browser.screenshot(png_path))
        if pdf_path is not None:
            data = browser.call(
                "Page.printToPDF",
                {
                    **_PAPER,
                    "landscape": False,  # the paper size is already landscape
                    "printBackground": True,
                    "preferCSSPageSize": True,
                    **{f"margin{side}": _MARGIN_IN for side in ("Top", "Bottom", "Left", "Right")},
                },
            )["data"]
            pdf_path.parent.mkdir(parents=True, exist_ok=True)
            pdf_path.write_bytes(base64.b64decode(data))
            written.append(pdf_path)
    return written
