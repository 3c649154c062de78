"""The companion's fixtures: one `sisessions companion` for the package, in a home of its own
with a programme begun, and the fixture session rendered through its API."""
from __future__ import annotations

import time

import pytest

from tests.phone.helpers import Companion, begun


@pytest.fixture(scope="package")
def home(tmp_path_factory, shared_cache):
    """The home of the package's one companion (test_api and test_files share it and its render)."""
    return begun(tmp_path_factory.mktemp("companion"), shared_cache)


@pytest.fixture(scope="package")
def comp(home):
    with Companion(home) as c:
        yield c


@pytest.fixture(scope="package")
def ready(comp):
    """The fixture session rendered through the API (real speech, real MP3)."""
    with comp.authed() as h:
        r = h.post("/api/render", json={"session": "short", "side": "left"})
        assert r.status_code in (200, 202), r.text
        rid = r.json()["id"]
        for _ in range(600):
            state = h.get(f"/api/render/{rid}").json()
            if state["state"] != "working":
                break
            time.sleep(0.2)
    assert state["state"] == "ready", state
    return state
