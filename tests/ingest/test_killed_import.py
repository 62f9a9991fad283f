"""An import killed in the middle of its load leaves the registry exactly as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recor import registry
from recor.sample import build_sample, write_sample

_CHILD = """
import sys
from recor import registry
from recor.ingest.pipeline import import_paths

def progress(stage):
    print(stage, flush=True)

with registry.connect(sys.argv[1]) as conn:
    import_paths(conn, [sys.argv[2]], progress=progress)
print("finished", flush=True)
"""


@pytest.mark.db
@pytest.mark.slow
def test_import_killed_during_load_leaves_registry_unchanged(
    registry_url: str, tmp_path: Path
) -> None:
    paths = write_sample(build_sample(segments=20_000), tmp_path)
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, registry_url, str(paths["shp"])],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "chargement":
                time.sleep(0.5)  # inside the load's transaction (it takes a few seconds)
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    with registry.connect(registry_url, autocommit=True) as conn:
        assert len(registry.read_sites(conn)) == 0
        assert len(registry.read_segments(conn)) == 0
        assert len(registry.list_batches(conn)) == 0
