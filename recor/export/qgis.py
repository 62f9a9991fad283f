"""A QGIS project over the live registry, written without QGIS (``.qgs`` XML in a ``.qgz`` zip).

Layers read PostGIS through the user's own connection parameters or libpq service; no
password is ever written (QGIS takes it from ``~/.pgpass``, ``PGPASSWORD`` or its own
authentication database). Groups: *Réseau* (sites by kind, segments by status and capacity,
shared-risk groups), *Historique* (every version of sites and segments, with QGIS's time
controller on their validity), *Référentiels* (administrative boundaries) and *Provenance*
(import batches). Styles follow the HTML maps; labels, legends and field names are French;
segments are related to their end sites; every layer is read-only (the registry changes
only through ``recor import``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import pyproj
from shapely.geometry.base import BaseGeometry

from recor import __version__
from recor.config import STORAGE_CRS, MapSettings
from recor.errors import ConfigurationError
from recor.export import qgis_styles as styles
from recor.registry.export_read import (
    ConnectionParameters,
    as_of_source,
    connection_parameters,
    registry_extent,
)
from recor.registry.reference import list_reference_layers

__all__ = ["QgisLayer", "QgisPlan", "plan_project", "qgis_project", "write_qgz"]

Extent = tuple[float, float, float, float]

_SITE_FIELDS = ["id", "code", "name", "kind", "operator", "status", "source", "extra"]
_SEGMENT_FIELDS = [
    "id", "code", "site_a", "site_b", "length_m", "fibre_count", "fibres_used", "cable_type",
    "installation", "status", "owner", "operator", "commissioned_on", "source", "extra",
]  # fmt: skip
_REFERENCE_NAMES_FR = {
    "communes": "Communes",
    "departements": "Départements",
    "regions": "Région",
    "region": "Région",
    "arrondissements": "Arrondissements",
    "cantons": "Cantons",
    "epci": "EPCI",
}


@dataclass(frozen=True)
class QgisLayer:
    """One layer of the project: where it reads, how it looks, where it sits in the tree."""

    layer_id: str
    name: str
    group: str
    table: str
    key: str
    geometry: str | None
    kind: str
    schema: str = "recor"
    subset: str = ""
    visible: bool = True
    fields: tuple[str, ...] = ()
    label_field: str | None = None
    temporal: bool = False


@dataclass(frozen=True)
class QgisPlan:
    """Everything the project says: connection, layers, extent, title."""

    connection: ConnectionParameters
    layers: tuple[QgisLayer, ...]
    extent: Extent | None
    title: str
    settings: MapSettings = field(default_factory=MapSettings)


def plan_project(
    conn: psycopg.Connection,
    *,
    settings: MapSettings | None = None,
    as_of: datetime | None = None,
    area: BaseGeometry | None = None,
) -> QgisPlan:
    """Decide the project's layers from the registry (its connection, reference layers, extent).

    Parameters
    ----------
    as_of
        Show sites and segments as they were then (a query layer each); the shared-risk
        group layer, which shows current groups only, is then left out.
    area
        Polygon (EPSG:2154): network layers are filtered to it and the view opens on it.
    """
    settings = settings or MapSettings()
    subset = ""
    if area is not None:
        subset = f"ST_Intersects(geom, ST_GeomFromText('{area.wkt}', 2154))"
    sites_table, segments_table, schema = "active_sites", "active_segments", "recor"
    if as_of is not None:
        sites_table = as_of_source(conn, "active_sites", as_of)
        segments_table = as_of_source(conn, "active_segments", as_of)
        schema = ""
    when = f" au {as_of:%d/%m/%Y %H:%M}" if as_of is not None else ""
    layers = [
        QgisLayer("recor_sites", f"Sites{when}", "Réseau", sites_table, "id", "Point", "sites",
                  schema=schema, subset=subset, fields=tuple(_SITE_FIELDS), label_field="name"),
        QgisLayer("recor_segments", f"Tronçons{when}", "Réseau", segments_table, "id",
                  "LineString", "segments", schema=schema, subset=subset,
                  fields=tuple(_SEGMENT_FIELDS)),
    ]  # fmt: skip
    if as_of is None:
        layers.append(
            QgisLayer("recor_risk_groups", "Groupes de risque partagé", "Réseau",
                      "risk_group_lines", "id", "MultiLineString", "risk_groups", subset=subset,
                      fields=("id", "code", "kind", "name", "source", "segment_count",
                              "segment_codes"), label_field="name")
        )  # fmt: skip
    layers += [
        QgisLayer("recor_site_versions", "Versions des sites", "Historique", "site_versions",
                  "version_key", "Point", "history_points", subset=subset, visible=False,
                  temporal=True, fields=("version_key", "code", "name", "kind", "status",
                                         "valid_from", "valid_to", "batch_id", "ended_by_batch")),
        QgisLayer("recor_segment_versions", "Versions des tronçons", "Historique",
                  "segment_versions", "version_key", "LineString", "history_lines",
                  subset=subset, visible=False, temporal=True,
                  fields=("version_key", "code", "status", "fibre_count", "valid_from",
                          "valid_to", "batch_id", "ended_by_batch")),
    ]  # fmt: skip
    for reference in list_reference_layers(conn):
        name = _REFERENCE_NAMES_FR.get(reference.kind, reference.kind.capitalize())
        layers.append(
            QgisLayer(f"recor_reference_{reference.kind}", name, "Référentiels",
                      "reference_areas", "id", "MultiPolygon", "reference",
                      subset=f"\"kind\" = '{reference.kind}'", visible=False,
                      fields=("id", "kind", "code", "name"), label_field="name")
        )  # fmt: skip
    layers.append(
        QgisLayer("recor_import_batches", "Lots d'import (provenance)", "Provenance",
                  "import_batches", "id", None, "table",
                  fields=("id", "started_at", "finished_at", "app_user", "db_user", "profile",
                          "outcome", "note", "source_files", "counts", "undoes", "undone_by"))
    )  # fmt: skip
    extent = area.bounds if area is not None else registry_extent(conn)
    title = "RECOR – registre du réseau" + (f" au {as_of:%d/%m/%Y}" if as_of else "")
    return QgisPlan(connection_parameters(conn), tuple(layers), extent, title, settings)


def datasource(connection: ConnectionParameters, layer: QgisLayer) -> str:
    """The PostGIS data source string of a layer (QGIS's URI syntax), without any password."""
    parts = []
    for key in ("service", "dbname", "host", "port", "user", "sslmode"):
        value = getattr(connection, key)
        if value:
            parts.append(f"{key}={_quote(str(value))}")
    parts.append(f"key='{layer.key}'")
    if layer.geometry:
        parts += ["srid=2154", f"type={layer.geometry}"]
    if layer.schema:
        table = f'table="{layer.schema}"."{layer.table}"'
    else:
        table = "table=" + _quote(layer.table, '"')
    parts.append(table + (" (geom)" if layer.geometry else ""))
    if layer.subset:
        parts.append(f"sql={layer.subset}")
    return " ".join(parts)


def qgis_project(plan: QgisPlan) -> ET.Element:
    """The ``<qgis>`` document of a plan."""
    root = ET.Element("qgis", {"version": "3.22.0", "projectname": plan.title})
    ET.SubElement(root, "title").text = plan.title
    ET.SubElement(root, "projectCrs").append(_crs())
    properties = ET.SubElement(ET.SubElement(root, "properties"), "SpatialRefSys")
    ET.SubElement(properties, "ProjectionsEnabled", {"type": "int"}).text = "1"
    root.append(_layer_tree(plan.layers))
    root.append(_relations(plan.layers))
    project_layers = ET.SubElement(root, "projectlayers")
    for layer in plan.layers:
        project_layers.append(_map_layer(plan, layer))
    order = ET.SubElement(root, "layerorder")
    for layer in plan.layers:
        ET.SubElement(order, "layer", {"id": layer.layer_id})
    if plan.extent is not None:
        root.append(_view_settings(plan.extent))
    metadata = ET.SubElement(root, "projectMetadata")
    ET.SubElement(metadata, "title").text = plan.title
    ET.SubElement(metadata, "language").text = "fr"
    ET.SubElement(metadata, "abstract").text = (
        f"Projet écrit par recor {__version__} : couches PostGIS en lecture seule sur le"
        " registre RECOR (Lambert-93). Le mot de passe n'est pas enregistré : QGIS le"
        " demande ou le lit dans ~/.pgpass ou un service pg_service.conf."
    )
    return root


def write_qgz(plan: QgisPlan, path: Path | str) -> Path:
    """Write the project of ``plan`` as a ``.qgz`` (zipped project) or a plain ``.qgs``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".qgz", ".qgs"):
        raise ConfigurationError(f"{path}: a QGIS project is a .qgz (or .qgs) file")
    path.parent.mkdir(parents=True, exist_ok=True)
    document = qgis_project(plan)
    ET.indent(document)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        document, encoding="unicode"
    )
    if suffix == ".qgs":
        path.write_text(text, "utf-8")
        return path
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{path.stem}.qgs", text.encode("utf-8"))
    return path


def _quote(value: str, mark: str = "'") -> str:
    escaped = value.replace("\\", "\\\\").replace(mark, "\\" + mark)
    return f"{mark}{escaped}{mark}"


def _crs() -> ET.Element:
    srs = ET.Element("spatialrefsys")
    for tag, text in (
        ("wkt", pyproj.CRS.from_epsg(STORAGE_CRS).to_wkt()),
        ("proj4", "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000"
                  " +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"),
        ("srid", "2154"),
        ("authid", "EPSG:2154"),
        ("description", "RGF93 v1 / Lambert-93"),
        ("projectionacronym", "lcc"),
        ("geographicflag", "false"),
    ):  # fmt: skip
        ET.SubElement(srs, tag).text = text
    return srs


def _layer_tree(layers: tuple[QgisLayer, ...]) -> ET.Element:
    tree = ET.Element("layer-tree-group")
    groups: dict[str, ET.Element] = {}
    for layer in layers:
        group = groups.get(layer.group)
        if group is None:
            checked = (
                "Qt::Checked" if layer.group in ("Réseau", "Référentiels") else "Qt::Unchecked"
            )
            group = ET.SubElement(
                tree, "layer-tree-group", {"name": layer.group, "checked": checked, "expanded": "1"}
            )
            groups[layer.group] = group
        ET.SubElement(
            group,
            "layer-tree-layer",
            {
                "id": layer.layer_id,
                "name": layer.name,
                "providerKey": "postgres",
                "checked": "Qt::Checked" if layer.visible else "Qt::Unchecked",
                "expanded": "0",
            },
        )
    return tree


def _relations(layers: tuple[QgisLayer, ...]) -> ET.Element:
    relations = ET.Element("relations")
    ids = {layer.layer_id for layer in layers}
    if not {"recor_sites", "recor_segments"} <= ids:
        return relations
    for end, label in (("site_a", "Site A du tronçon"), ("site_b", "Site B du tronçon")):
        relation = ET.SubElement(
            relations,
            "relation",
            {
                "id": f"recor_segment_{end}",
                "name": label,
                "referencingLayer": "recor_segments",
                "referencedLayer": "recor_sites",
                "strength": "Association",
            },
        )
        ET.SubElement(relation, "fieldRef", {"referencingField": end, "referencedField": "code"})
    return relations


def _renderer(plan: QgisPlan, layer: QgisLayer) -> ET.Element | None:
    return {
        "sites": styles.site_renderer,
        "segments": lambda: styles.segment_renderer(plan.settings),
        "risk_groups": styles.risk_group_renderer,
        "history_points": lambda: styles.history_renderer("point"),
        "history_lines": lambda: styles.history_renderer("line"),
        "reference": styles.area_renderer,
    }.get(layer.kind, lambda: None)()


def _map_layer(plan: QgisPlan, layer: QgisLayer) -> ET.Element:
    attributes = {
        "type": "vector",
        "readOnly": "1",
        "labelsEnabled": "1" if layer.label_field else "0",
        "hasScaleBasedVisibilityFlag": "0",
    }
    if layer.geometry:
        attributes["geometry"] = (
            "Point"
            if layer.geometry == "Point"
            else ("Line" if "Line" in layer.geometry else "Polygon")
        )
    element = ET.Element("maplayer", attributes)
    ET.SubElement(element, "id").text = layer.layer_id
    ET.SubElement(element, "datasource").text = datasource(plan.connection, layer)
    ET.SubElement(element, "layername").text = layer.name
    if layer.geometry:
        ET.SubElement(element, "srs").append(_crs())
    ET.SubElement(element, "provider", {"encoding": "UTF-8"}).text = "postgres"
    flags = ET.SubElement(element, "flags")
    for flag, value in (("Identifiable", "1"), ("Removable", "1"), ("Searchable", "1")):
        ET.SubElement(flags, flag).text = value
    if layer.temporal:
        ET.SubElement(
            element,
            "temporal",
            {"enabled": "1", "mode": "2", "startField": "valid_from", "endField": "valid_to",
             "accumulate": "0", "limitMode": "0"},
        )  # fmt: skip
    renderer = _renderer(plan, layer)
    if renderer is not None:
        element.append(renderer)
    if layer.label_field:
        max_scale = 100000 if layer.kind == "sites" else 500000
        element.append(styles.labeling(layer.label_field, max_scale))
    element.append(styles.aliases(list(layer.fields)))
    ET.SubElement(element, "previewExpression").text = (
        f'"{layer.fields[1]}"' if layer.fields else ""
    )
    return element


def _view_settings(extent: Extent) -> ET.Element:
    xmin, ymin, xmax, ymax = extent
    margin = max(xmax - xmin, ymax - ymin, 1000.0) * 0.05
    box = {
        "xmin": f"{xmin - margin:.1f}",
        "ymin": f"{ymin - margin:.1f}",
        "xmax": f"{xmax + margin:.1f}",
        "ymax": f"{ymax + margin:.1f}",
    }
    view = ET.Element("ProjectViewSettings", {"UseProjectScales": "0", "rotation": "0"})
    default = ET.SubElement(view, "DefaultViewExtent", box)
    default.append(_crs())
    return view
