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
    return pathlib.Path(os.environ.get("WH_FIXTURES", ROOT.parent / "shared" / "fixtures" / "formats"))
