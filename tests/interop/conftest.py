import pathlib

import pytest

from hub_support import WH_BIN, executable

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wh():
    """The wh binary ($WH_BIN, else the debug build in $CARGO_TARGET_DIR)."""
    return executable(WH_BIN, "wh binary")


@pytest.fixture(scope="session")
def fixtures():
    """The checkpoints written by the reference libraries (tests/fixtures/reference/formats)."""
    path = ROOT / "tests" / "fixtures" / "reference" / "formats"
    if not (path / "truth.json").is_file():
        pytest.fail(f"{path} is missing: the reference fixtures are part of the repository")
    return path
