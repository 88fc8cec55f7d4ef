"""Shared pytest fixtures: where the built tools are, the shared models, and how to run a
tool the way a user would (a subprocess, checking exit code and messages)."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

BIN = pathlib.Path(os.environ.get("WK_BIN", ROOT / "bin"))
GEN = pathlib.Path(os.environ.get("WK_GEN", ROOT / "build" / "gen"))
SHARED = pathlib.Path(os.environ.get("WK_SHARED", ROOT.parent / "shared"))
IN_CI = os.environ.get("CI") == "true"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long cross-check or benchmark-script test; `make test` runs it in "
        "the plain pass and leaves it out of the sanitizer pass, where the same C paths are "
        "exercised by the shorter tests")


def tool(name):
    return str(BIN / name)


def run(args, check=None, **kw):
    """Runs a command, returns CompletedProcess with text output. check=0/1/2 asserts the
    exit code."""
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if check is not None:
        assert p.returncode == check, (
            f"{args} exited {p.returncode}, expected {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def shared_path(rel):
    """A path under ../shared: skip outside CI when it is missing, fail inside CI."""
    p = SHARED / rel
    if not p.exists():
        if IN_CI:
            pytest.fail(f"{p} is missing, and CI must have it")
        pytest.skip(f"{p} not present (a user's clone has no ../shared)")
    return p


@pytest.fixture
def stories260k():
    return shared_path("models/stories260k-hf")


@pytest.fixture
def student256():
    return shared_path("models/student256-hf")
