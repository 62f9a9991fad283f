"""Start-up cost: commands that use no GIS library do not import one.

pandas, geopandas, shapely and pyogrio cost about half a second of every command that
imports them; ``recor import undo``, ``recor summary`` and ``--help`` need none. Each
command runs for real in a fresh interpreter, which then lists the heavy modules loaded.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recor import ingest, registry
from recor.registry import BatchInfo

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "geopandas", "shapely", "pyogrio", "pyproj", "numpy", "scipy")

#: Runs ``recor ARGS`` through :func:`recor.cli.main` (``--help`` exits), then prints the
#: heavy modules loaded as the last line, after the command's own output.
_PROBE = """
import json, sys
from recor.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
heavy = json.loads(sys.argv[1])
print(json.dumps({"code": code, "heavy": sorted(m for m in heavy if m in sys.modules)}))
"""


def _run(*args: str) -> tuple[str, dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    *output, last = done.stdout.strip().splitlines()
    return "\n".join(output), json.loads(last)


@pytest.mark.db
def test_summary_and_undo_import_no_gis_library(conn, registry_url, sample_delivery):
    batch = registry.load_delivery(conn, sample_delivery, BatchInfo()).batch_id
    out, probe = _run("--database-url", registry_url, "summary", "--json")
    assert probe == {"code": 0, "heavy": []}
    assert json.loads(out)["segments"] == len(sample_delivery.segments)
    out, probe = _run("--database-url", registry_url, "import", "undo", str(batch), "--json")
    assert probe == {"code": 0, "heavy": []}
    assert json.loads(out)["undoes"] == batch
    assert registry.list_batches(conn)["undone_by"].notna().any()
    out, probe = _run("--database-url", registry_url, "db", "status")
    assert probe == {"code": 0, "heavy": []}
    assert "0001_registry: applied" in out


@pytest.mark.parametrize("command", ["import", "summary", "history", "db"])
def test_help_imports_no_gis_library(command):
    out, probe = _run(command, "--help")
    assert probe == {"code": 0, "heavy": []}
    assert out.startswith(f"usage: recor {command}")


@pytest.mark.parametrize("package", [registry, ingest])
def test_every_public_name_is_the_one_its_module_defines(package):
    assert set(package._EXPORTS) == set(package.__all__)
    for name, module in package._EXPORTS.items():
        defined = getattr(importlib.import_module(f"{package.__name__}.{module}"), name)
        assert getattr(package, name) is defined, name
    # the function, not the submodule of the same name (imported above)
    assert callable(registry.history) and callable(registry.snapshot)
    assert set(package.__all__) <= set(dir(package))
    star: dict = {}
    exec(f"from {package.__name__} import *", star)
    assert {name: star[name] for name in package.__all__} == {
        name: getattr(package, name) for name in package.__all__
    }
