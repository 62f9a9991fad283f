"""folium pieces of a recor page: an offline map, inlined assets, compact layers, controls.

folium renders the page (``Map.get_root().render()``). Its defaults are replaced where they
would break the page offline or blow its size: :class:`OfflineMap` links no CDN (folium's
``default_js`` / ``default_css`` point at jsdelivr, Bootstrap, Font Awesome and jQuery), the
vendored Leaflet and the recor runtime are inlined by :class:`InlineAssets`, and each layer is
a :class:`CompactLayer` (the encoding of :mod:`recor.maps.encode`) instead of a GeoJson layer,
which would be ten times larger.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import ClassVar

import folium
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

__all__ = [
    "CompactLayer",
    "InlineAssets",
    "OfflineMap",
    "PageControls",
    "content_security_policy",
]

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _asset(name: str) -> str:
    return (resources.files("recor.maps") / "assets" / name).read_text("utf-8")


class _Verbatim(Element):
    """Text written as it is: branca would compile it as a Jinja template (megabytes of
    layer data lexed for nothing, and any ``{{`` in a name taken for a placeholder)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        # what the template would render: Jinja drops one trailing line break
        self.text = text[:-1] if text.endswith("\n") else text

    def render(self, **kwargs) -> str:
        """The text."""
        return self.text


class _VerbatimMacro(MacroElement):
    """A macro element whose rendered header, html and script are added verbatim."""

    def render(self, **kwargs) -> None:
        """Add the rendered macros to the figure's header, html and script."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("a map element is rendered inside a figure")
        module = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = module.get(part)
            if macro is not None:
                getattr(figure, part).add_child(
                    _Verbatim(macro(self, kwargs)), name=self.get_name()
                )
        for child in self._children.values():
            child.render(**kwargs)


class OfflineMap(folium.Map):
    """A folium map that links nothing: no CDN script or stylesheet, no default tiles.

    Leaflet and the recor runtime come inlined through :class:`InlineAssets`.
    """

    default_js: ClassVar[list[tuple[str, str]]] = []
    default_css: ClassVar[list[tuple[str, str]]] = []


class InlineAssets(_VerbatimMacro):
    """The vendored Leaflet (JS and CSS) and the recor runtime, inlined in the page header.

    Add it to the map first: its header then follows folium's own (``L_NO_TOUCH`` switches).
    """

    _template = Template(
        "{% macro header(this, kwargs) %}"
        "<style>{{ this.css }}</style>\n"
        "<script>{{ this.leaflet_js }}</script>\n"
        "<script>{{ this.runtime_js }}</script>\n"
        "{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "InlineAssets"
        self.css = _asset("leaflet.css") + "\n" + _asset("recor-map.css")
        self.leaflet_js = _asset("leaflet.js")
        self.runtime_js = _asset("recor-map.js")


class CompactLayer(_VerbatimMacro):
    """One compact layer: its data as escaped JSON, decoded and drawn by ``recor.addLayer``.

    Parameters
    ----------
    data
        The layer as JSON already escaped for a ``<script>`` element
        (:func:`recor.maps.document.embed_json`); it is written verbatim.
    """

    _template = Template(
        "{% macro html(this, kwargs) %}"
        '<script type="application/json" id="{{ this.get_name() }}">{{ this.data }}</script>\n'
        "{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = recor.addLayer({{ this._parent.get_name() }}, "
        "JSON.parse(document.getElementById({{ this.get_name()|tojson }}).textContent));\n"
        "{% endmacro %}"
    )

    def __init__(self, data: str) -> None:
        super().__init__()
        self._name = "CompactLayer"
        self.data = data


class PageControls(_VerbatimMacro):
    """Title, layer control, search, table, legend and provenance (``recor.finish``).

    Add it last: it lists the layers added before it. Its JSON is the page's ``recor-spec``.
    """

    _template = Template(
        "{% macro html(this, kwargs) %}"
        '<script type="application/json" id="recor-spec">{{ this.data }}</script>\n'
        "{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        "recor.finish({{ this._parent.get_name() }}, "
        'JSON.parse(document.getElementById("recor-spec").textContent));\n'
        "{% endmacro %}"
    )

    def __init__(self, data: str) -> None:
        super().__init__()
        self._name = "PageControls"
        self.data = data


def _script_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(page: str, *, img_src: str = "data:") -> str:
    """The policy of a rendered page: no request, only its own inline scripts (by hash).

    Parameters
    ----------
    page
        The HTML rendered by folium; every ``<script>`` without attributes is hashed
        (``type="application/json"`` elements hold data and never run).
    img_src
        Sources allowed for images (``data:`` and, when asked for, the tile server).
    """
    hashes = dict.fromkeys(_script_hash(body) for body in _INLINE_SCRIPT.findall(page))
    return (
        "default-src 'none'; "
        f"script-src {' '.join(hashes)}; "
        f"style-src 'unsafe-inline'; img-src {img_src}; "
        "base-uri 'none'; form-action 'none'"
    )
