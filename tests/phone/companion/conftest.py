"""The companion's fixtures: one `sisessions companion` per test module, in a home of its own
with a programme begun, and the fixture session rendered through its API."""
from __future__ import annotations

import time

import pytest

from tests.conftest import module_env, run_cli
from tests.phone.helpers import LIBS, Companion


@pytest.fixture(scope="module")
def home(tmp_path_factory, shared_cache):
    root = tmp_path_factory.mktemp("companion")
    env = module_env(root, shared_cache)
    run_cli(*LIBS, "today", "--program", "steps", env=env, check=0)
    return env


@pytest.fixture(scope="module")
def comp(home):
    c = Companion(home)
    try:
        yield c
    finally:
        err = c.stop()
        assert "Traceback" not in err, err


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
