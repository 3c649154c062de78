"""The companion's side of SPEC §8, on the real `sisessions companion`: /api/today is
`today --json`, /api/check records a check, and /api/log with a client id writes once."""
from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import run_cli
from tests.phone.helpers import LIBS, Companion, begun, log_lines


@pytest.fixture
def comp(tmp_path, shared_cache):
    with Companion(begun(tmp_path, shared_cache)) as c:
        yield c


def test_api_today_is_today_json(comp):
    run_cli("log", "--pain", "4", "--when", "morning", env=comp.env, check=0)
    with comp.authed() as h:
        t = h.get("/api/today").json()
    assert t == json.loads(run_cli(*LIBS, "today", "--json", env=comp.env, check=0).stdout)
    assert (t["session"], t["stage"], t["day"], t["days"], t["light"], t["refer"]) == ("first", 1, 1, 2, "green", False)


def test_api_check_records_a_check_once_per_id(comp):
    with comp.authed() as h:
        r = h.post("/api/check", json={"result": "same", "id": "c-1"})
        assert r.status_code == 201, r.text
        again = h.post("/api/check", json={"result": "same", "id": "c-1"})
        assert again.status_code == 200 and again.json() == r.json()
        assert r.json()["result"] == "same" and r.json()["today"]["session"] == "first"
        days = h.get("/api/log", params={"days": 1}).json()["days"]
    checks = [x for x in log_lines(comp.env) if x["kind"] == "check"]
    assert [(c["result"], c["id"]) for c in checks] == [("same", "c-1")]
    assert days[-1]["check"] == "same"


@pytest.mark.parametrize("path, body", [
    ("/api/check", {"result": "both"}),
    ("/api/check", {}),
    ("/api/check", {"result": "left", "id": 7}),
    ("/api/check", {"result": "left", "id": "a b"}),
    ("/api/check", {"result": "left", "side": "left"}),
    ("/api/log", {"session": "first", "completed": True, "minutes": 1, "id": ""}),
    ("/api/log", {"session": "first", "completed": True, "minutes": 1, "id": "x" * 65}),
    ("/api/log", {"session": "first", "completed": True, "minutes": 1, "pain": 2, "when": "night"}),
    ("/api/log", {"pain": 11, "when": "morning"}),
    ("/api/log", {"pain": 3, "when": "morning", "note": 5}),
])
def test_bad_check_or_log_input_is_400_and_nothing_written(comp, path, body):
    with comp.authed() as h:
        r = h.post(path, json=body)
    assert r.status_code == 400 and set(r.json()) == {"error"}, r.text
    assert log_lines(comp.env) == []


def test_the_same_log_id_twice_writes_once_and_answers_the_same(comp):
    post = {"session": "first", "completed": True, "minutes": 0.5, "pain": 2, "id": "phone-7f3a.1"}
    with comp.authed() as h:
        first = h.post("/api/log", json=post)
        second = h.post("/api/log", json=post)
        assert first.status_code == 201 and second.status_code == 200, (first.text, second.text)
        assert first.json() == second.json()
        other = h.post("/api/log", json={**post, "id": "phone-7f3a.2"})
        assert other.status_code == 201
    lines = log_lines(comp.env)
    assert [(x["kind"], x["id"]) for x in lines] == [("play", "phone-7f3a.1"), ("pain", "phone-7f3a.1.pain"),
                                                     ("play", "phone-7f3a.2"), ("pain", "phone-7f3a.2.pain")]
    assert lines[1]["when"] == "after"


def test_the_same_id_sent_at_once_from_many_connections_is_written_once(comp):
    """A phone that retries while the first request is still on its way: one record."""
    post = {"session": "first", "completed": True, "minutes": 0.5, "id": "race-1"}
    start, codes = threading.Barrier(6), []

    def send():
        with comp.authed() as h:
            start.wait()
            codes.append(h.post("/api/log", json=post).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [200] * 5 + [201]
    assert [x["id"] for x in log_lines(comp.env)] == ["race-1"]


def test_a_pain_entry_alone_and_the_log_keeps_after_and_morning_apart(comp):
    with comp.authed() as h:
        assert h.post("/api/log", json={"pain": 3, "when": "morning", "id": "m-1"}).status_code == 201
        assert h.post("/api/log", json={"session": "first", "completed": True, "minutes": 0.5,
                                        "pain": 5}).status_code == 201
        day = h.get("/api/log", params={"days": 3}).json()["days"][-1]
        t = h.get("/api/today").json()
    assert (day["pain_morning"], day["pain_after"], day["pain"]) == (3, 5, 5)
    assert t["light"] == "amber" and "5/10" in t["reason"]
