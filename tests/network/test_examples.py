"""Every example script in routing/ runs and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROUTING = Path(__file__).resolve().parents[2] / "routing"

EXPECTED = {
    "shortest_route.py": "within 45 dB budget",
    "diverse_pair.py": "fully diverse",
    "single_homed.py": "new_build_km",
    "flood_whatif.py": "worst 5 km disk",
}


def test_every_example_is_covered() -> None:
    assert {p.name for p in ROUTING.glob("*.py")} == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RECOR_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, str(ROUTING / script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert EXPECTED[script] in done.stdout
