"""The schedule stage's fixtures: a throwaway user of this test run whose crontab the tests read
and write, so that no real crontab is ever touched."""
from __future__ import annotations

import os
import secrets
import time

import pytest

from tests.conftest import missing_on_ci

from sisessions.schedule import cron
from tests.schedule.helpers import root_with_cron, sh


@pytest.fixture(scope="session")
def cron_user():
    """A throwaway user of this test run, so that no real crontab is ever touched."""
    if missing_on_ci(not root_with_cron()):  # only the tests that touch a crontab need it (CI runs as root)
        pytest.skip("needs root, crontab and useradd")
    for _ in range(50):  # useradd fails while another worker holds /etc/passwd's lock
        # a random part too: a pid is reused, and a run killed before its cleanup leaves its user
        name = f"sis-test-{os.getpid()}-{secrets.token_hex(3)}"
        p = sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name, check=False)
        if p.returncode == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"useradd {name}: {p.stderr}")
    yield name
    sh("crontab", "-u", name, "-r", check=False)
    sh("userdel", name, check=False)


@pytest.fixture
def user(cron_user, monkeypatch):
    sh("crontab", "-u", cron_user, "-r", check=False)
    monkeypatch.setenv(cron.USER_ENV, cron_user)
    return cron_user
