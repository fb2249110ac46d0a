import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wh():
    path = os.environ.get("WH_BIN")
    if not path:
        pytest.fail("WH_BIN must name the wh binary (scripts/interop.sh sets it)")
    return path


@pytest.fixture(scope="session")
def fixtures():
    """The checkpoints written by the reference libraries (tests/fixtures/reference/formats)."""
    path = ROOT / "tests" / "fixtures" / "reference" / "formats"
    if not (path / "truth.json").is_file():
        pytest.fail(f"{path} is missing: the reference fixtures are part of the repository")
    return path
