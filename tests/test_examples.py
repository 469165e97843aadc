"""The examples that the documentation shows without running them still run."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The plot_*.py examples run in the documentation build (sphinx-gallery).
NOT_IN_GALLERY_RUN = sorted(
    p for p in EXAMPLES.glob("*.py") if not p.name.startswith("plot_")
)


def test_examples_are_found():
    assert {p.name for p in NOT_IN_GALLERY_RUN} >= {"quickstart.py", "out_of_core.py"}


@pytest.mark.parametrize("path", NOT_IN_GALLERY_RUN, ids=lambda p: p.name)
def test_example_runs(path):
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stdout.strip()
