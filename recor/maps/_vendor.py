"""Vendor Leaflet from its npm package into ``recor/maps/assets/`` (run at build time).

``npm pack leaflet@1.9.4 && tar xzf leaflet-1.9.4.tgz`` then
``python -m recor.maps._vendor package/``. Images referenced by the stylesheet are inlined
as ``data:`` URIs so that the map never asks for a file, local or remote.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sys
from pathlib import Path

__all__ = ["vendor_leaflet"]

ASSETS = Path(__file__).resolve().parent / "assets"
_CSS_URL = re.compile(r"url\((images/[^)]+)\)")


def vendor_leaflet(package: Path, assets: Path = ASSETS) -> dict[str, str]:
    """Copy ``leaflet.js`` and ``leaflet.css`` (images inlined) from an unpacked npm package.

    Parameters
    ----------
    package
        The unpacked npm package folder (holding ``package.json`` and ``dist/``).
    assets
        Destination folder.

    Returns
    -------
    dict
        Name and version of the vendored package.
    """
    meta = json.loads((package / "package.json").read_text("utf-8"))
    dist = package / "dist"

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((dist / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = _CSS_URL.sub(inline, (dist / "leaflet.css").read_text("utf-8"))
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "leaflet.css").write_text(css, "utf-8")
    js = (dist / "leaflet.js").read_text("utf-8")
    # the source-map comment would make developer tools request a file
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    (assets / "leaflet.js").write_text(js, "utf-8")
    shutil.copyfile(package / "LICENSE", assets / "LICENSE-leaflet.txt")
    info = {"name": meta["name"], "version": meta["version"]}
    (assets / "VENDORED.json").write_text(json.dumps(info) + "\n", "utf-8")
    return info


if __name__ == "__main__":
    print(vendor_leaflet(Path(sys.argv[1])))
