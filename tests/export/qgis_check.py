"""Open a QGIS project with PyQGIS (headless) and print what QGIS sees, as JSON.

Run by the tests with Debian's ``/usr/bin/python3`` (``python3-qgis``), never imported:
``QT_QPA_PLATFORM=offscreen python3 qgis_check.py PROJECT.qgz``.
"""

import json
import sys

from qgis.core import QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsProject
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

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


def drawn_colours(ids: tuple[str, ...], size: int = 300) -> dict[str, int]:
    """Pixels of each colour when the layers ``ids`` are drawn at the project's extent."""
    settings = QgsMapSettings()
    settings.setLayers([project.mapLayer(i) for i in ids if project.mapLayer(i) is not None])
    settings.setDestinationCrs(project.crs())
    settings.setExtent(project.viewSettings().defaultViewExtent())
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    counts: dict[str, int] = {}
    for x in range(size):
        for y in range(size):
            name = QColor(image.pixel(x, y)).name()
            counts[name] = counts.get(name, 0) + 1
    return counts


print(
    json.dumps(
        {
            "opened": opened,
            "crs": project.crs().authid(),
            "title": project.title(),
            "layers": layers,
            "relations": relations,
            "drawn": drawn_colours(("recor_sites", "recor_segments")),
        }
    )
)
app.exitQgis()
