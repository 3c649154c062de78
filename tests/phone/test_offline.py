"""The companion from a phone on the home network (SPEC §9): the companion at a 10.x address of
a network namespace made by the test, Debian's Chromium in the same namespace trusting the
companion's authority as a person installs it (NSS `certutil`)."""
from __future__ import annotations

import time

import pytest

from tests.phone import netns
from tests.phone.helpers import Companion, log_lines, wait_for

pytestmark = pytest.mark.skipif(netns.should_skip(), reason=netns.skip_reason())


@pytest.fixture(scope="module")
def ns():
    with netns.Netns() as n:
        yield n


@pytest.fixture(scope="module")
def secure(ns, home):
    with Companion(home, "--https", ns=ns, host=ns.ip) as c:
        yield c


@pytest.fixture(scope="module")
def phone(ns, secure, tmp_path_factory):
    """A phone's browser that has been told to trust the companion's authority."""
    from pathlib import Path

    home = tmp_path_factory.mktemp("phone-home")
    ca = Path(secure.env["XDG_CONFIG_HOME"]) / "sisessions" / "companion-https" / "ca.crt"
    netns.trust(home, ca)
    with netns.Browser(ns, home) as b:
        yield b


@pytest.fixture(scope="module")
def stranger(ns, tmp_path_factory):
    """A browser in the namespace that was never told to trust the authority (its own NSS database)."""
    with netns.Browser(ns, tmp_path_factory.mktemp("stranger-home")) as b:
        yield b


def play_and_done(drv, base: str, pain: int) -> None:
    """Open today's session, play it a moment, and say Done with this pain."""
    from selenium.webdriver.common.by import By

    drv.get(f"{base}/")
    play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
    wait_for(lambda: play.is_enabled(), 180)
    play.click()
    wait_for(lambda: drv.execute_script("return document.querySelector('audio').currentTime > 0.3"), 30)
    form = drv.find_element(By.CSS_SELECTOR, 'form[data-action="done"]')
    drv.execute_script("const p = arguments[0].querySelector('[name=pain]'); p.value = arguments[1];"
                       "p.dispatchEvent(new Event('input'));", form, pain)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_the_page_is_a_secure_context_at_a_home_network_address(secure, phone):
    from selenium.webdriver.common.by import By

    drv = phone.drv
    assert not secure.base.startswith("https://127.")
    drv.get(f"{secure.base}/?t={secure.token}")
    assert drv.current_url == f"{secure.base}/"
    assert drv.execute_script("return window.isSecureContext") is True
    assert drv.execute_script("return location.protocol") == "https:"
    wake = drv.find_element(By.ID, "wake")
    wait_for(lambda: wake.is_displayed(), 60)  # once the page has shown itself
    assert drv.execute_script("return document.getElementById('offline-note').hidden") is True
    if not wake.is_selected():
        wake.click()
    before = len(log_lines(secure.env))
    play_and_done(drv, secure.base, 2)
    wait_for(lambda: drv.execute_script("return document.body.dataset.wake") == "on", 10)  # held while it plays
    wait_for(lambda: "Written" in drv.find_element(By.ID, "done-status").text, 30)
    assert [(r["kind"], r.get("pain")) for r in log_lines(secure.env)[before:]] == [("play", None), ("pain", 2)]


def test_a_new_kept_session_replaces_the_one_before_and_a_reload_resumes_where_it_stopped(secure, phone):
    from selenium.webdriver.common.by import By

    drv = phone.drv
    drv.set_script_timeout(60)
    drv.get(f"{secure.base}/?t={secure.token}")  # today's session, kept
    wait_for(lambda: drv.execute_script("return document.body.dataset.offline") == "ready", 180)
    first = drv.execute_script("return document.body.dataset.keptId")
    drv.get(f"{secure.base}/?session=short")
    play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
    ask = drv.find_element(By.ID, "side-ask")
    wait_for(lambda: ask.is_displayed(), 180)  # a sided session, no check today: the page asks
    checks = [r for r in log_lines(secure.env) if r["kind"] == "check"]
    ask.find_element(By.CSS_SELECTOR, '[data-side="left"]').click()  # through the phone's queue, with its id
    wait_for(lambda: play.is_enabled(), 180)
    (check,) = [r for r in log_lines(secure.env) if r["kind"] == "check"][len(checks):]
    assert check["result"] == "left" and check["id"]
    play.click()
    wait_for(lambda: drv.execute_script("return document.querySelector('audio').currentTime > 0.3"), 30)
    drv.execute_script("document.querySelector('audio').currentTime = 12.7")  # dragged on, then paused
    wait_for(lambda: drv.execute_script("return document.querySelector('audio').currentTime > 12.9"), 30)
    drv.execute_script("document.querySelector('audio').pause()")
    stopped = drv.execute_script("return document.querySelector('audio').currentTime")
    drv.get(f"{secure.base}/?session=short")
    play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
    wait_for(lambda: play.is_enabled(), 60)
    at = wait_for(lambda: drv.execute_script("const a = document.querySelector('audio'); return a.currentTime > 0 && a.currentTime"), 30)
    assert stopped - 1.5 <= at <= stopped  # whole seconds, kept as it played
    wait_for(lambda: play.text.startswith("Continue"), 10)
    wait_for(lambda: drv.execute_script("return document.body.dataset.offline") == "ready", 60)
    second = drv.execute_script("return document.body.dataset.keptId")
    media = [p for p in kept_state(drv)["session"] if p.startswith("/media/")]
    assert second != first and len(media) == 2 and all(f"/media/{second}/" in p for p in media)


def test_the_page_offers_the_reminder_for_the_phones_calendar(secure, phone):
    import icalendar
    from selenium.webdriver.common.by import By

    drv = phone.drv
    drv.set_script_timeout(30)
    drv.get(f"{secure.base}/?t={secure.token}")
    summary = drv.find_element(By.CSS_SELECTOR, "#remind summary")
    wait_for(lambda: summary.is_displayed(), 60)  # once the page has shown itself
    summary.click()
    drv.execute_script("const t = document.getElementById('r-at'); t.value = '06:15'; t.dispatchEvent(new Event('input'));")
    for box in drv.find_elements(By.CSS_SELECTOR, "#r-days input"):
        if box.get_attribute("value") in ("0", "6"):
            box.click()
    link = drv.find_element(By.ID, "r-link")
    assert link.is_displayed() and link.get_attribute("download") == "sisessions.ics"
    text = drv.execute_async_script("fetch(arguments[0]).then((r) => r.text()).then(arguments[1])",
                                    link.get_attribute("href"))
    (ev,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert ev.decoded("dtstart").strftime("%H:%M") == "06:15"
    assert ev["rrule"]["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"] and ev.walk("VALARM")
    assert str(ev["url"]) == secure.base + "/"


def test_over_plain_http_the_page_still_works_but_is_not_a_secure_context(ns, home, stranger):
    from selenium.webdriver.common.by import By

    with Companion(home, ns=ns, host=ns.ip) as plain:
        drv = stranger.drv
        drv.get(f"{plain.base}/?t={plain.token}")
        assert drv.execute_script("return window.isSecureContext") is False
        note = drv.find_element(By.ID, "offline-note")
        wait_for(lambda: note.is_displayed(), 60)
        assert "--https" in note.text  # one line on what --https adds
        assert not drv.find_element(By.ID, "wake").is_displayed()  # no wake lock over http
        assert drv.execute_script("return navigator.serviceWorker === undefined || !navigator.serviceWorker.controller")
        before = len(log_lines(home))
        play_and_done(drv, plain.base, 5)
        wait_for(lambda: "Written" in drv.find_element(By.ID, "done-status").text, 30)
        assert [(r["kind"], r.get("pain")) for r in log_lines(home)[before:]] == [("play", None), ("pain", 5)]


def test_a_browser_that_was_not_told_to_trust_the_authority_refuses_the_page(secure, stranger):
    stranger.drv.get(f"{secure.base}/")
    assert "open the address" not in stranger.drv.page_source  # the companion's own 401 text: never reached
    assert "privacy error" in stranger.drv.title.lower(), stranger.drv.title


# ---------------------------------------------------------------- with the computer off


def kept_state(drv) -> dict:
    """What the phone keeps: the service worker in control, the caches' paths, the queue."""
    return drv.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const out = {controlled: !!navigator.serviceWorker.controller, offline: document.body.dataset.offline || null,
                       session: [], page: []};
          for (const name of ["sis-session", "sis-page"]) {
            const c = await caches.open(name);
            out[name === "sis-session" ? "session" : "page"] = (await c.keys()).map((r) => new URL(r.url).pathname);
          }
          out.queue = (await sisOffline.waiting()).length;
          out.usage = (await navigator.storage.estimate()).usage;
          return out;
        })().then(done, (e) => done({error: String(e)}));
    """)


def test_with_the_computer_off_the_page_plays_the_kept_session_and_done_is_sent_once_later(ns, home, phone, tmp_path):
    from selenium.webdriver.common.by import By

    drv = phone.drv
    drv.set_script_timeout(60)
    c = Companion(home, "--https", ns=ns, host=ns.ip, port=8765)  # the address the phone knows
    try:
        drv.get(f"{c.base}/?t={c.token}")
        wait_for(lambda: drv.execute_script("return document.body.dataset.offline") == "ready", 180)
        drv.get(f"{c.base}/")  # the service worker controls the page from the next load on
        wait_for(lambda: kept_state(drv)["controlled"], 30)
        wait_for(lambda: drv.execute_script("return document.body.dataset.offline") == "ready", 60)
        first = kept_state(drv)
        render_id = drv.execute_script("return document.body.dataset.keptId")
        assert sorted(first["page"]) == ["/", "/offline.js"]
        assert first["session"] and all(render_id in p for p in first["session"] if p.startswith("/media/"))
        assert {p.rsplit(".", 1)[-1] for p in first["session"]} == {"mp3", "vtt", "json"}
        assert drv.execute_script("return window.isSecureContext") is True
    finally:
        assert "Traceback" not in c.stop()
    before = len(log_lines(home))

    # the computer is off: the page comes from the phone, and so does the audio
    drv.get(f"{c.base}/")
    wait_for(lambda: "Kept on this phone" in drv.find_element(By.ID, "reason").text, 30)
    assert drv.execute_script("return document.body.dataset.offline") == "ready"
    play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
    wait_for(lambda: play.is_enabled(), 30)
    assert [b.text.split("\n")[0] for b in drv.find_elements(By.CSS_SELECTOR, "[data-chapter-start]")][0] == "Introduction"
    play.click()
    t0 = wait_for(lambda: drv.execute_script("const a = document.querySelector('audio');"
                                             "return a.currentTime > 0.5 && a.currentTime;"), 30)
    wait_for(lambda: drv.execute_script("return document.querySelector('audio').currentTime") > t0 + 0.5, 30)
    wait_for(lambda: drv.find_element(By.ID, "line").text, 30)  # the transcript, kept too
    drv.execute_script("document.querySelector('audio').pause()")
    form = drv.find_element(By.CSS_SELECTOR, 'form[data-action="done"]')
    drv.execute_script("const p = arguments[0].querySelector('[name=pain]'); p.value = 4;"
                       "p.dispatchEvent(new Event('input'));", form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "Kept on this phone" in drv.find_element(By.ID, "done-status").text, 30)
    assert kept_state(drv)["queue"] == 1 and len(log_lines(home)) == before

    # the computer answers again: the queued Done is written, once
    c.start()
    try:
        wait_for(lambda: len(log_lines(home)) > before, 60)
        wait_for(lambda: kept_state(drv)["queue"] == 0, 30)
        drv.get(f"{c.base}/")  # a reload flushes again: nothing is left to send, nothing written twice
        wait_for(lambda: drv.find_element(By.CSS_SELECTOR, '[data-action="play"]').is_enabled(), 120)
        time.sleep(1)
    finally:
        assert "Traceback" not in c.stop()
    new = log_lines(home)[before:]
    assert [(r["kind"], r.get("pain"), r.get("when")) for r in new] == [("play", None, None), ("pain", 4, "after")]
    assert new[0]["completed"] is True and new[0]["id"] and new[1]["id"]
