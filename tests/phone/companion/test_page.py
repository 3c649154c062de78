"""The phone companion's page (SPEC §7) driven in a real headless Chromium sized as a phone,
against the real `sisessions companion` command."""
from __future__ import annotations

import json
import os
import shutil


from tests.conftest import run_cli
from tests.phone.helpers import LIBS, chromium, log_lines, needs_chromium, wait_for


# ---------------------------------------------------------------- the page in Chromium


@needs_chromium
def test_the_page_plays_jumps_shows_chapters_and_logs_done(comp, ready, tmp_path):
    from selenium.webdriver.common.by import By

    before = len(log_lines(comp.env))
    drv = chromium()
    try:
        drv.get(f"{comp.base}/?t={comp.token}&session=short")
        assert drv.current_url == f"{comp.base}/?session=short"  # the token left the address
        ask = drv.find_element(By.ID, "side-ask")
        wait_for(lambda: ask.is_displayed(), 30)  # no side saved: the page asks once
        ask.find_element(By.CSS_SELECTOR, '[data-side="left"]').click()
        play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
        wait_for(lambda: play.is_enabled())
        assert len(drv.find_elements(By.TAG_NAME, "audio")) == 1
        starts = [float(b.get_attribute("data-chapter-start"))
                  for b in drv.find_elements(By.CSS_SELECTOR, "[data-chapter-start]")]
        assert starts == [c["start"] for c in ready["chapters"]]
        play.click()
        t0 = wait_for(lambda: drv.execute_script("const a = document.querySelector('audio');"
                                                 "return a.currentTime > 0.3 && a.currentTime;"), 30)
        t1 = wait_for(lambda: drv.execute_script("return document.querySelector('audio').currentTime") > t0 + 0.5, 30)
        assert t1
        title = drv.execute_script("return navigator.mediaSession.metadata && navigator.mediaSession.metadata.title")
        assert title == "Introduction"
        wait_for(lambda: drv.execute_script("return document.getElementById('line').textContent"), 30)
        chapter = drv.find_elements(By.CSS_SELECTOR, "[data-chapter-start]")[2]
        chapter.click()
        at = wait_for(lambda: (lambda t: t >= starts[2] and t)(
            drv.execute_script("return document.querySelector('audio').currentTime")), 30)
        assert starts[2] <= at < starts[3]
        wait_for(lambda: drv.execute_script("return navigator.mediaSession.metadata.title") == "Side Reach (left side)", 10)
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
        wait_for(lambda: drv.find_element(By.CSS_SELECTOR, '[data-action="play"]').is_enabled())
        assert drv.find_element(By.ID, "title").text == "The first stage"
        assert "stage 1 of 2" in drv.find_element(By.ID, "reason").text
        form = drv.find_element(By.CSS_SELECTOR, 'form[data-action="done"]')
        drv.execute_script("const p = arguments[0].querySelector('[name=pain]'); p.value = 3;"
                           "p.dispatchEvent(new Event('input'));", form)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: "Written" in drv.find_element(By.ID, "done-status").text, 20)
        wait_for(lambda: "1 day in a row" in drv.find_element(By.ID, "streak").text, 20)
        assert drv.find_elements(By.CSS_SELECTOR, "#chart svg circle")
    finally:
        drv.quit()
    lines = log_lines(comp.env)[before:]
    assert [(r["kind"], r.get("session"), r.get("pain")) for r in lines] == [("play", "first", None), ("pain", None, 3)]
    assert lines[0]["completed"] is True
    assert "1 day of first done" in run_cli(*LIBS, "today", env=comp.env, check=0).stdout
    assert "Streak: 1 day in a row" in run_cli(*LIBS, "log", env=comp.env, check=0).stdout
