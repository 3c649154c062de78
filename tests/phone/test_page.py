"""The companion's page (SPEC §7, §8) as a phone meets it: real Chromium at phone size through
chromedriver, on the machine's home-network address where it has one (not a secure context,
as on a phone), axe-core for the accessible names, the browser's own PerformanceObserver for
layout shifts, feedparser for the feed."""
from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import urllib.parse
from pathlib import Path

import feedparser
import httpx
import pytest

from sisessions.phone.companion import PAGE
from tests.conftest import missing_on_ci, run_cli
from tests.phone.helpers import LIBS, Companion, begun, chromium, log_lines, needs_chromium, wait_for

AXE = Path(sys.prefix) / "share" / "axe-core" / "axe.min.js"   # setup.sh --test puts it there (npm)


def lan_address() -> str:
    """This machine's address on its network (what a phone opens), else 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
        addr = s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()
    return "127.0.0.1" if addr.startswith("127.") else addr


needs_axe = pytest.mark.skipif(missing_on_ci(not AXE.is_file()),
                               reason="needs axe-core (setup.sh --test fetches it with npm)")


def js(drv, script: str, *args):
    return drv.execute_script(script, *args)


@pytest.fixture(scope="module")
def comp(home):
    """The companion on the home-network address, as a phone reaches it."""
    with Companion(home, host=lan_address()) as c:
        yield c


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, shared_cache):
    """A home with the programme begun, that no companion uses: what `own` copies."""
    return begun(tmp_path_factory.mktemp("pristine"), shared_cache)


@pytest.fixture
def fresh(comp, pristine):
    """The module's companion with its person's data new, for tests that count what is written:
    no practice log, the settings as the programme was begun; its renders and token stay (the
    companion's own, as on a second day)."""
    (Path(comp.env["XDG_DATA_HOME"]) / "sisessions" / "practice.jsonl").unlink(missing_ok=True)
    settings = Path("config") / "sisessions" / "settings.json"
    shutil.copy(Path(pristine["HOME"]) / settings, Path(comp.env["HOME"]) / settings)
    return comp


@pytest.fixture
def own(pristine, tmp_path, shared_cache):
    """A companion with a home of its own, where a render made while the page waits matters."""
    with Companion(begun(tmp_path, shared_cache, like=pristine), host=lan_address()) as c:
        yield c


@pytest.fixture(scope="module")
def browser():
    d = chromium()
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def drv(browser):
    """The module's Chromium, left as a new one would be: no cookies, and the origin the test
    ended on (most often the module's companion) forgets its storage and caches."""
    yield browser
    was = urllib.parse.urlsplit(browser.current_url)
    browser.get("about:blank")  # first: a page still open could write again
    if was.scheme in ("http", "https"):
        browser.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": f"{was.scheme}://{was.netloc}",
                                                               "storageTypes": "all"})
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})


def open_page(drv, c: Companion, query: str = "") -> None:
    drv.get(f"{c.base}/?t={c.token}{'&' + query if query else ''}")
    assert drv.current_url == f"{c.base}/{'?' + query if query else ''}"  # the token left the address


def ready_to_play(drv):
    play = drv.find_element("css selector", '[data-action="play"]')
    wait_for(lambda: play.is_displayed() and play.is_enabled())
    return play


def to_the_end(drv) -> None:
    """Once it plays: skip to 1.5 s before its end (as a person drags the bar), play to the end."""
    wait_for(lambda: js(drv, "const a = document.querySelector('audio'); return !a.paused && a.currentTime > 0.3"), 30)
    js(drv, "const a = document.querySelector('audio'); a.currentTime = a.duration - 1.5;")
    wait_for(lambda: js(drv, "return document.querySelector('audio').ended"), 30)


def answer_check(drv, result: str) -> None:
    ask = drv.find_element("id", "side-ask")
    wait_for(lambda: ask.is_displayed(), 30)
    ask.find_element("css selector", f'[data-side="{result}"]').click()


# ---------------------------------------------------------------- the whole page, as before


@needs_chromium
def test_the_page_plays_jumps_shows_chapters_and_logs_done(fresh, drv, tmp_path):
    from selenium.webdriver.common.by import By

    comp = fresh
    before = len(log_lines(comp.env))
    open_page(drv, comp, "session=short")
    answer_check(drv, "left")  # no check today: the page asks it
    play = ready_to_play(drv)
    assert len(drv.find_elements(By.TAG_NAME, "audio")) == 1
    starts = [float(b.get_attribute("data-chapter-start"))
              for b in drv.find_elements(By.CSS_SELECTOR, "[data-chapter-start]")]
    assert len(starts) == 5 and starts[0] == 0.0 and starts == sorted(starts)
    play.click()
    t0 = wait_for(lambda: js(drv, "const a = document.querySelector('audio'); return a.currentTime > 0.3 && a.currentTime;"), 30)
    assert wait_for(lambda: js(drv, "return document.querySelector('audio').currentTime") > t0 + 0.5, 30)
    assert js(drv, "return navigator.mediaSession.metadata && navigator.mediaSession.metadata.title") == "Introduction"
    wait_for(lambda: js(drv, "return document.getElementById('line').textContent"), 30)
    drv.find_elements(By.CSS_SELECTOR, "[data-chapter-start]")[2].click()
    at = wait_for(lambda: (lambda t: t >= starts[2] and t)(js(drv, "return document.querySelector('audio').currentTime")), 30)
    assert starts[2] <= at < starts[3]
    wait_for(lambda: js(drv, "return navigator.mediaSession.metadata.title") == "Side Reach (left side)", 10)
    said = [c["text"] for c in json.loads(run_cli(*LIBS, "show", "short", "--side", "left", "--json",
                                                  env=comp.env, check=0).stdout)["cues"]
            if c["kind"] == "say" and starts[2] - 0.05 <= c["start"] < starts[3]]
    wait_for(lambda: drv.find_element(By.ID, "line").text in said, 10)  # the line of the chapter
    shot = tmp_path / "companion-390x844.png"
    drv.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("SISESSIONS_SCREENSHOT"):
        shutil.copy(shot, os.environ["SISESSIONS_SCREENSHOT"])

    # today's session, done, with pain 3
    drv.get(f"{comp.base}/")
    ready_to_play(drv)
    assert drv.find_element(By.ID, "title").text == "The first stage"
    assert "stage 1 of 2" in drv.find_element(By.ID, "reason").text
    form = drv.find_element(By.CSS_SELECTOR, 'form[data-action="done"]')
    js(drv, "const p = arguments[0].querySelector('[name=pain]'); p.value = 3; p.dispatchEvent(new Event('input'));", form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "Written" in drv.find_element(By.ID, "done-status").text, 20)
    wait_for(lambda: "1 day in a row" in drv.find_element(By.ID, "streak").text, 20)
    assert drv.find_elements(By.CSS_SELECTOR, "#chart svg circle")
    lines = [r for r in log_lines(comp.env)[before:] if r["kind"] in ("play", "pain")]
    assert [(r["kind"], r.get("session"), r.get("pain")) for r in lines] == [("play", "first", None), ("pain", None, 3)]
    assert lines[0]["completed"] is True
    assert "1 day of first done" in run_cli(*LIBS, "today", env=comp.env, check=0).stdout
    assert "Streak: 1 day in a row" in run_cli(*LIBS, "log", env=comp.env, check=0).stdout


# ---------------------------------------------------------------- issue 21: what real clients found


@needs_chromium
def test_done_tapped_twice_and_again_later_writes_once(fresh, drv):
    """Item 1: a double tap, and a tap after it was written, write one play and one pain."""
    from selenium.webdriver.common.action_chains import ActionChains

    open_page(drv, fresh)
    ready_to_play(drv)
    done = drv.find_element("css selector", 'form[data-action="done"] button[type=submit]')
    ActionChains(drv).double_click(done).perform()
    status = drv.find_element("id", "done-status")
    wait_for(lambda: "Written in your practice log" in status.text, 20)
    assert not done.is_enabled() and done.text == "Written"  # it shows it was written
    js(drv, "arguments[0].click(); document.getElementById('done').requestSubmit();", done)  # later, again
    time.sleep(1.5)
    kinds = [r["kind"] for r in log_lines(fresh.env)]
    assert kinds.count("play") == 1 and kinds.count("pain") == 1, kinds


@needs_chromium
def test_at_the_end_the_page_offers_done_and_playing_again_is_a_labelled_choice(fresh, drv):
    """Item 2: at the end the button said "Continue", and a tap restarted the session from 0:00."""
    open_page(drv, fresh)
    play = ready_to_play(drv)
    play.click()
    to_the_end(drv)
    assert play.text == "Play again from the start"
    status = drv.find_element("id", "status").text
    assert "session is over" in status and "Done" in status
    done = drv.find_element("css selector", 'form[data-action="done"] button[type=submit]')
    assert done.is_displayed() and done.is_enabled()
    time.sleep(0.5)
    assert js(drv, "const a = document.querySelector('audio'); return a.paused && a.currentTime > a.duration - 0.2")
    play.click()  # chosen, as labelled: from the start
    wait_for(lambda: js(drv, "const a = document.querySelector('audio'); return !a.paused && a.currentTime < 3"), 10)
    assert play.text == "Pause"


def test_the_401_page_says_how_to_get_in_and_fits_a_phone(comp):
    """Item 3: it was unstyled plain text without a viewport."""
    with httpx.Client(base_url=comp.base, timeout=30) as c:
        r = c.get("/")
        api = c.get("/api/today")
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert '<meta name="viewport" content="width=device-width' in r.text
    head = PAGE.read_text(encoding="utf-8").split("<title>")[0]  # the page's own head, whole
    assert r.text.startswith(head) and head.startswith("<!doctype html>") and 'content="no-referrer"' in head
    assert r.text.count("<title>") == 1 and r.text.rstrip().endswith("</html>") and "<!--" not in r.text
    assert "sisessions companion" in r.text and "Scan" in r.text
    assert api.status_code == 401 and set(api.json()) == {"error"}  # the API still answers JSON


@needs_chromium
def test_the_401_page_reads_at_phone_size(comp, drv):
    drv.get(comp.base + "/")
    size = js(drv, "return [window.innerWidth, document.documentElement.scrollWidth,"
                   " parseFloat(getComputedStyle(document.body).fontSize)]")
    assert size[0] == 390 and size[1] <= 390 and size[2] >= 16, size  # no zooming, no sideways scrolling
    assert "This page needs its key" in drv.find_element("tag name", "h1").text


def test_the_page_api_and_feed_are_compressed_but_audio_is_not(comp):
    """Item 4 (text compression, Lighthouse): Starlette's GZip middleware, never on audio ranges."""
    head = {"Authorization": f"Bearer {comp.token}", "Accept-Encoding": "gzip"}
    with httpx.Client(base_url=comp.base, timeout=60, headers=head) as h:
        page = h.get("/")
        assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
        assert page.content == PAGE.read_bytes()  # decoded by httpx: byte for byte the page
        assert len(page.content) > len(h.get("/", headers={"Accept-Encoding": "identity"}).content) // 4
        assert h.get("/api/sessions").headers.get("content-encoding") == "gzip"
        r = h.post("/api/render", json={"session": "first"})
        state = r.json()
        while state["state"] == "working":
            time.sleep(0.2)
            state = h.get(f"/api/render/{state['id']}").json()
        audio = h.get(state["audio"], headers={"Range": "bytes=0-2"})
        assert audio.status_code == 206 and "content-encoding" not in audio.headers and audio.content == b"ID3"


# the page's own layout-shift figure, as Lighthouse counts it: shifts without recent input
SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__shifts.push({value: e.value, input: e.hadRecentInput,
    nodes: (e.sources || []).map((s) => s.node ? (s.node.id || s.node.nodeName) : "?")});
}).observe({type: "layout-shift", buffered: true});
"""


def layout_shift(drv) -> tuple[float, list]:
    shifts = js(drv, "return window.__shifts")
    return sum(s["value"] for s in shifts if not s["input"]), shifts


@needs_chromium
@pytest.mark.parametrize("query", ["", "session=after"])
def test_nothing_shifts_as_the_page_fills_in(own, drv, query):
    """Item 4: the side question and the chapters appeared and pushed the Done form (CLS 0.20)."""
    for when, pain, ago in (("morning", "2", 3), ("after", "4", 2), ("after", "3", 1)):  # a long reason
        run_cli(*LIBS, "log", "--pain", pain, "--when", when, "--date", days_ago(ago), env=own.env, check=0)
    script = drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SHIFTS})
    try:
        shifts_stay_small(drv, own, query)
    finally:  # the next test's pages run without it
        drv.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)


def shifts_stay_small(drv, own, query: str) -> None:
    open_page(drv, own, query)
    if query:
        ask = drv.find_element("id", "side-ask")
        wait_for(lambda: ask.is_displayed(), 30)
        time.sleep(1)
        cls, shifts = layout_shift(drv)
        assert cls < 0.05, shifts
        answer_check(drv, "same")
    ready_to_play(drv)
    wait_for(lambda: js(drv, "return document.querySelectorAll('#chapters button').length"), 30)
    wait_for(lambda: js(drv, "return document.querySelector('#chart svg')"), 30)
    time.sleep(1)
    cls, shifts = layout_shift(drv)
    assert cls < 0.05, shifts  # Lighthouse's "good" is under 0.1


def axe(drv) -> list[dict]:
    """axe-core's violations on the page as it is now, with label-content-name-mismatch on."""
    if not js(drv, "return typeof window.axe === 'object'"):
        # as a script element (the page's policy allows inline scripts, not eval)
        js(drv, "const s = document.createElement('script'); s.textContent = arguments[0];"
                " document.head.append(s);", AXE.read_text(encoding="utf-8"))
    res = drv.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',"
        " 'best-practice']}, rules: {'label-content-name-mismatch': {enabled: true}}})"
        ".then((r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map((n) => n.html.slice(0, 120))}))), (e) => done([{id: 'axe failed', impact: String(e)}]));")
    return res


@needs_chromium
@needs_axe
def test_accessible_names_match_what_each_control_shows(fresh, drv):
    """Item 5: Play was named "Play" while it showed "Choose a side first" or "Continue"; the
    chapters were named "Go to ..., at ..." while they showed the title and the time."""
    drv.set_script_timeout(60)
    seen = {}

    def check(moment):
        seen[moment] = axe(drv)

    open_page(drv, fresh, "session=after")
    wait_for(lambda: drv.find_element("id", "side-ask").is_displayed(), 30)
    check("the check asked")
    answer_check(drv, "left")
    play = ready_to_play(drv)
    check("ready")
    play.click()
    wait_for(lambda: js(drv, "return document.querySelector('audio').currentTime > 0.8"), 30)
    play.click()
    wait_for(lambda: play.text != "Pause", 10)
    check("paused part-way")
    play.click()
    to_the_end(drv)
    check("the end")
    assert {m: v for m, v in seen.items() if v} == {}


@needs_chromium
def test_elapsed_and_remaining_time_show_while_playing(fresh, drv):
    """Item 6."""
    open_page(drv, fresh)
    play = ready_to_play(drv)
    play.click()
    wait_for(lambda: js(drv, "return document.querySelector('audio').currentTime > 2.2"), 30)
    text = drv.find_element("id", "time").text
    t, d = js(drv, "const a = document.querySelector('audio'); return [a.currentTime, a.duration]")
    played, left = text.split(" played · ")
    secs = lambda s: int(s.split(":")[0]) * 60 + int(s.split(":")[1])  # noqa: E731
    assert left.endswith(" to go") and abs(secs(played) - t) <= 1.5
    assert abs(secs(played) + secs(left[:-len(" to go")]) - d) <= 1.5


@needs_chromium
def test_the_charts_description_counts_one_entry_as_one(fresh, drv):
    """Item 6: the chart's description said "1 entries"."""
    run_cli(*LIBS, "log", "--pain", "4", env=fresh.env, check=0)
    open_page(drv, fresh)
    chart = drv.find_element("id", "chart")
    label = wait_for(lambda: "entr" in (chart.get_attribute("aria-label") or "") and chart.get_attribute("aria-label"), 30)
    assert "1 entry," in label and "1 entries" not in label, label
    assert "the last 4 of 10 on " in label


def test_the_feeds_self_link_carries_the_token(comp):
    """Item 7: an app that adopts the feed's atom:link rel=self lost the feed (401)."""
    with httpx.Client(timeout=30) as c:
        body = c.get(f"{comp.base}/feed.xml", params={"t": comp.token}).content
        f = feedparser.parse(body)
        assert not f.bozo, f.bozo_exception
        (me,) = [x for x in f.feed.links if x.rel == "self"]
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(me.href).query)["t"] == [comp.token]
        again = c.get(me.href)  # a podcast app: no cookie, the adopted address alone
    assert again.status_code == 200 and not feedparser.parse(again.content).bozo



# ---------------------------------------------------------------- issue 19: today follows the body


def days_ago(n: int) -> str:
    import datetime

    return (datetime.date.today() - datetime.timedelta(days=n)).isoformat()


@needs_chromium
@pytest.mark.parametrize("history, light", [
    ([], "green"),
    ([("--done", "first", 1), ("--pain", "7", 1)], "red"),
    ([("--done", "first", 1), ("--pain", "9", 1)], "red"),  # pain 8+: see a professional, said plainly
])
def test_the_page_says_todays_light_and_reason_in_one_sentence(fresh, drv, history, light):
    for flag, value, ago in history:
        extra = ("--when", "after") if flag == "--pain" else ()
        run_cli(*LIBS, "log", flag, value, *extra, "--date", days_ago(ago), env=fresh.env, check=0)
    today = json.loads(run_cli(*LIBS, "today", "--json", env=fresh.env, check=0).stdout)
    assert today["light"] == light, today
    open_page(drv, fresh)
    ready_to_play(drv)
    said = drv.find_element("id", "reason").text
    assert today["reason"] in said, (said, today)
    assert said.count(light.title() + ":") == 1  # the light named once, in words
    assert ("doctor or physiotherapist" in said) == today["refer"], (said, today)
    assert drv.find_element("id", "light").get_attribute("data-light") == light


@needs_chromium
@pytest.mark.parametrize("answer, side", [("right", "right side"), ("same", "both sides")])
def test_the_check_is_three_large_buttons_and_sets_the_side(fresh, drv, answer, side):
    open_page(drv, fresh, "session=after")  # a sided session, and no check today
    ask = drv.find_element("id", "side-ask")
    wait_for(lambda: ask.is_displayed(), 30)
    buttons = ask.find_elements("css selector", "button[data-side]")
    assert [b.text for b in buttons] == ["Left", "Right", "Same"]
    assert all(b.size["height"] >= 80 and b.size["width"] >= 100 for b in buttons), [b.size for b in buttons]
    assert not drv.find_element("css selector", '[data-action="play"]').is_displayed()
    buttons[["left", "right", "same"].index(answer)].click()
    ready_to_play(drv)
    assert drv.find_element("id", "facts").text.startswith(side)
    checks = [r for r in log_lines(fresh.env) if r["kind"] == "check"]
    assert [c["result"] for c in checks] == [answer] and checks[0].get("id")
    drv.get(f"{fresh.base}/?session=after")  # asked once a day: today's check is known now
    ready_to_play(drv)
    assert not drv.find_element("id", "side-ask").is_displayed()
    assert drv.find_element("id", "facts").text.startswith(side)


@needs_chromium
def test_done_sends_a_client_id_and_the_same_record_again_writes_nothing(fresh, drv):
    open_page(drv, fresh)
    ready_to_play(drv)
    drv.find_element("css selector", 'form[data-action="done"] button[type=submit]').click()
    wait_for(lambda: "Written" in drv.find_element("id", "done-status").text, 20)
    play, pain = log_lines(fresh.env)
    assert len(play["id"]) == 32 and pain["id"].startswith(play["id"]) and pain["when"] == "after"
    again = drv.execute_async_script(  # what a retry, or an offline queue replayed, sends
        "const done = arguments[arguments.length - 1];"
        "send('/api/log', {id: arguments[0], session: 'first', completed: true, minutes: 0.1, pain: 3})"
        ".then(() => done('sent'), (e) => done(e.message));", play["id"])
    assert again == "sent" and len(log_lines(fresh.env)) == 2


@needs_chromium
def test_the_chart_shows_after_session_and_morning_pain_apart_with_dates(fresh, drv):
    run_cli(*LIBS, "log", "--pain", "2", "--when", "morning", "--date", days_ago(2), env=fresh.env, check=0)
    run_cli(*LIBS, "log", "--pain", "5", "--when", "after", "--date", days_ago(1), env=fresh.env, check=0)
    open_page(drv, fresh)
    wait_for(lambda: drv.find_elements("css selector", "#chart svg circle.after"), 30)
    assert len(drv.find_elements("css selector", "#chart svg circle.after")) == 1
    assert len(drv.find_elements("css selector", "#chart svg rect.morning")) == 1
    dates = [t.get_attribute("data-date") for t in drv.find_elements("css selector", "#chart svg text[data-date]")]
    assert dates[0] == days_ago(55) and dates[-1] == days_ago(0) and len(dates) == 3
    label = drv.find_element("id", "chart").get_attribute("aria-label")

    def short(iso):
        import datetime

        d = datetime.date.fromisoformat(iso)
        return f"{d.day} {d.strftime('%b')}"

    assert f"After a session: 1 entry, the last 5 of 10 on {short(days_ago(1))}." in label, label
    assert f"In the morning: 1 entry, the last 2 of 10 on {short(days_ago(2))}." in label, label
