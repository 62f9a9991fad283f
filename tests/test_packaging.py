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
