"""Packaging promises: one dependency list, two set-up commands, a thin CI script."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# conda-forge spells some packages differently from PyPI.
_CONDA_NAMES = {"psycopg[binary]": "psycopg", "python-igraph": "igraph"}


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~ ]", requirement.strip(), maxsplit=1)[0].lower()
    return _CONDA_NAMES.get(name, name)


def test_environment_yml_names_the_same_runtime_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    server_side = {"python", "postgresql", "postgis", "pgrouting", "gdal", "pip"}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert conda - server_side - dev == runtime


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("set ")
    ]
    assert commands[-1] == "make test"


def test_every_runtime_dependency_is_explained_in_the_readme():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    readme = (ROOT / "README.md").read_text().lower()
    for requirement in project["dependencies"]:
        assert f"`{_name(requirement)}`" in readme, requirement


def test_each_command_registers_only_its_own_module_and_the_map_is_true():
    import argparse
    import importlib
    import subprocess
    import sys

    from recor import cli

    registered = {}
    for name in cli._COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers(dest="command")
        importlib.import_module(f"recor.cli.{name}").register(subparsers)
        registered |= dict.fromkeys(subparsers.choices, name)
    assert registered == cli.COMMANDS
    # a network command does not import the maps, the GIS readers or the exports
    probe = (
        "import sys; from recor.cli import build_parser;"
        " build_parser(['--database-url', 'map', 'route', 'A', 'B']);"
        " print(sorted(m for m in sys.modules if m.startswith(('recor.maps', 'recor.ingest',"
        " 'recor.export', 'folium'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
