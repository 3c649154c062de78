"""The companion from a phone on the home network (SPEC §9): the companion at a 10.x address of
a network namespace made by the test, Debian's Chromium in the same namespace trusting the
companion's authority as a person installs it (NSS `certutil`)."""
from __future__ import annotations

import time

import pytest

from tests import netns
from tests.conftest import FIXTURES, run_cli
from tests.test_companion import log_lines, wait_for
from tests.test_phone import module_env

LIBS = ("--scripts", FIXTURES / "phone", "--scripts", FIXTURES / "morning")

pytestmark = pytest.mark.skipif(netns.should_skip(), reason=netns.skip_reason())


@pytest.fixture(scope="module")
def ns():
    n = netns.Netns()
    try:
        yield n
    finally:
        n.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory, shared_cache):
    root = tmp_path_factory.mktemp("offline")
    env = module_env(root, shared_cache)
    run_cli(*LIBS, "today", "--program", "steps", env=env, check=0)
    return env


@pytest.fixture(scope="module")
def secure(ns, home):
    c = netns.Companion(ns, home, LIBS, "--https")
    try:
        yield c
    finally:
        assert "Traceback" not in c.stop()


@pytest.fixture(scope="module")
def phone(ns, secure, tmp_path_factory):
    """A phone's browser that has been told to trust the companion's authority."""
    from pathlib import Path

    home = tmp_path_factory.mktemp("phone-home")
    ca = Path(secure.env["XDG_CONFIG_HOME"]) / "sisessions" / "companion-https" / "ca.crt"
    netns.trust(home, ca)
    b = netns.Browser(ns, home)
    try:
        yield b
    finally:
        b.quit()


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
    before = len(log_lines(secure.env))
    play_and_done(drv, secure.base, 2)
    wait_for(lambda: "Written" in drv.find_element(By.ID, "done-status").text, 30)
    assert [(r["kind"], r.get("pain")) for r in log_lines(secure.env)[before:]] == [("play", None), ("pain", 2)]


def test_over_plain_http_the_page_still_works_but_is_not_a_secure_context(ns, home, tmp_path):
    from selenium.webdriver.common.by import By

    plain = netns.Companion(ns, home, LIBS)
    b = netns.Browser(ns, tmp_path)
    try:
        drv = b.drv
        drv.get(f"{plain.base}/?t={plain.token}")
        assert drv.execute_script("return window.isSecureContext") is False
        before = len(log_lines(home))
        play_and_done(drv, plain.base, 5)
        wait_for(lambda: "Written" in drv.find_element(By.ID, "done-status").text, 30)
        assert [(r["kind"], r.get("pain")) for r in log_lines(home)[before:]] == [("play", None), ("pain", 5)]
    finally:
        b.quit()
        assert "Traceback" not in plain.stop()


def test_a_browser_that_was_not_told_to_trust_the_authority_refuses_the_page(ns, secure, tmp_path):
    b = netns.Browser(ns, tmp_path)  # its own NSS database, without the authority
    try:
        b.drv.get(f"{secure.base}/")
        assert "open the address" not in b.drv.page_source  # the companion's own 401 text: never reached
        assert "privacy error" in b.drv.title.lower(), b.drv.title
    finally:
        b.quit()
