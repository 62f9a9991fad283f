"""Open a QGIS project with PyQGIS (headless) and print what QGIS sees, as JSON.

Run by the tests with Debian's ``/usr/bin/python3`` (``python3-qgis``), never imported:
``QT_QPA_PLATFORM=offscreen python3 qgis_check.py PROJECT.qgz``.
"""

import json
import sys

from qgis.core import QgsApplication, QgsProject

app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
opened = project.read(sys.argv[1])
layers = []
for layer in project.mapLayers().values():
    renderer = layer.renderer() if hasattr(layer, "renderer") else None
    legend, colours = [], []
    if renderer is not None:
        legend = [item.label() for item in renderer.legendSymbolItems()]
        colours = [
            [item.label(), item.symbol().color().name()]
            for item in renderer.legendSymbolItems()
            if item.symbol() is not None
        ]
    labeling = layer.labeling() if hasattr(layer, "labeling") else None
    layers.append(
        {
            "id": layer.id(),
            "name": layer.name(),
            "valid": layer.isValid(),
            "read_only": layer.readOnly(),
            "count": sum(1 for _ in layer.getFeatures()) if layer.isValid() else None,
            "crs": layer.crs().authid(),
            "source": layer.source(),
            "renderer": renderer.type() if renderer is not None else None,
            "legend": legend,
            "colours": colours,
            "labels": bool(labeling) and layer.labelsEnabled(),
            "aliases": {f.name(): f.alias() for f in layer.fields()},
            "temporal": bool(layer.temporalProperties().isActive()),
        }
    )
relations = [
    {
        "id": r.id(),
        "valid": r.isValid(),
        "referencing": r.referencingLayerId(),
        "referenced": r.referencedLayerId(),
        "pairs": sorted([k, v] for k, v in r.fieldPairs().items()),
    }
    for r in project.relationManager().relations().values()
]
print(
    json.dumps(
        {
            "opened": opened,
            "crs": project.crs().authid(),
            "title": project.title(),
            "layers": layers,
            "relations": relations,
        }
    )
)
app.exitQgis()
