"""The companion's fixtures: one `sisessions companion` per test module, in its home
(tests/phone/conftest.py), and the fixture session rendered through its API."""
from __future__ import annotations

import time

import pytest

from tests.phone.helpers import Companion


@pytest.fixture(scope="module")
def comp(home):
    with Companion(home) as c:
        yield c


@pytest.fixture(scope="module")
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
