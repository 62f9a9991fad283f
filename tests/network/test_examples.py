"""Every example script in routing/ reads the registry, prints what it promises, refuses
clearly what it cannot do (exit code not 0, one line, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROUTING = Path(__file__).resolve().parents[2] / "routing"
PROJECT = ROUTING.parent

pytestmark = pytest.mark.db

#: script -> what its default run on the sample registry must print
EXPECTED = {
    "shortest_route.py": ["within 45 dB budget", "free fibres 1", "data: batch "],
    "diverse_pair.py": ["fully diverse", "POP-ORLEANS > ", "data: batch "],
    "single_homed.py": ["new link to ", "POP-EPERNON", "data: batch "],
    "flood_whatif.py": [
        "core sites left without a path to the other ones: DC-ORLEANS",
        "worst 5 km disk",
    ],
}

#: script arguments naming a site that does not exist
UNKNOWN_SITE = {
    "shortest_route.py": ["Atlantis", "POP-TOURS"],
    "diverse_pair.py": ["POP-ORLEANS", "Atlantis"],
    "single_homed.py": ["--core", "Atlantis"],
    "flood_whatif.py": ["--worst", "0"],
}


def run(
    script: str, args: list[str], url: str | None, tmp_path: Path
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RECOR_DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    if url is not None:
        env["RECOR_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, str(ROUTING / script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )


def _clean(text: str) -> None:
    for word in ("nan", "NaN", "None", "<NA>", "Traceback"):
        assert word not in text.split() and "Traceback" not in text, (word, text)


def test_every_example_is_covered() -> None:
    assert {p.name for p in ROUTING.glob("*.py")} == set(EXPECTED) == set(UNKNOWN_SITE)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_reads_the_sample_registry(
    script: str, sample_registry_url: str, tmp_path: Path
) -> None:
    done = run(script, [], sample_registry_url, tmp_path)
    assert done.returncode == 0, done.stderr
    for expected in EXPECTED[script]:
        assert expected in done.stdout, done.stdout
    _clean(done.stdout)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_says_unknown_where_counts_are_unknown(
    script: str, unknown_registry_url: str, tmp_path: Path
) -> None:
    args = ["--min-free", "0"] if script == "shortest_route.py" else []
    done = run(script, args, unknown_registry_url, tmp_path)
    assert done.returncode == 0, done.stderr
    _clean(done.stdout)


def test_a_route_over_unknown_usage_says_its_free_fibres_are_unknown(
    unknown_registry_url: str, tmp_path: Path
) -> None:
    """No minimum: the shortest route crosses the segments of unknown usage and says so.

    With the default minimum (12) they are left out, and so many segments of this registry
    have unknown usage that no route is left: the refusal says why.
    """
    done = run("shortest_route.py", ["--min-free", "0", "--k", "1"], unknown_registry_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "free fibres unknown (" in done.stdout
    assert "free fibres 288" not in done.stdout
    constrained = run("shortest_route.py", [], unknown_registry_url, tmp_path)
    assert constrained.returncode != 0 and "Traceback" not in constrained.stderr
    assert "segment(s) of unknown free fibres" in constrained.stderr
    assert "cannot be shown to have the minimum" in constrained.stderr


@pytest.mark.parametrize("script", sorted(UNKNOWN_SITE))
def test_example_refuses_what_it_cannot_do_in_one_line(
    script: str, sample_registry_url: str, tmp_path: Path
) -> None:
    done = run(script, UNKNOWN_SITE[script], sample_registry_url, tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(script.removesuffix(".py") + ": ")
    assert "Atlantis" in done.stderr or "radius" in done.stderr


def test_examples_take_statuses_and_as_of(sample_registry_url: str, tmp_path: Path) -> None:
    past = run(
        "single_homed.py", ["--as-of", "2001-01-01T00:00+00:00"], sample_registry_url, tmp_path
    )
    assert past.returncode != 0 and "Traceback" not in past.stderr
    assert "no site (in_service) as of 2001-01-01" in past.stderr
    every = run("diverse_pair.py", ["--all-statuses"], sample_registry_url, tmp_path)
    assert every.returncode == 0 and "fully diverse" in every.stdout
    planned = run("diverse_pair.py", ["--status", "planned"], sample_registry_url, tmp_path)
    assert planned.returncode != 0 and "status planned" in planned.stderr


def test_examples_refuse_a_registry_they_cannot_reach(tmp_path: Path) -> None:
    done = run("shortest_route.py", [], "postgresql://127.0.0.1:1/nowhere", tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "cannot connect to the registry database" in done.stderr
