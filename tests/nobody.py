"""Running a command as `nobody` (uid 65534) from a test run by root, so that file modes hold as
they do for any user: for the tests of a root-installed checkout (cli/) and of `serve` (phone/)."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import missing_on_ci

AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


@contextlib.contextmanager
def folder(prefix: str):
    """A new folder (0755) that nobody can reach, unlike tmp_path; removed after. Skips the test
    unless it runs as root with setpriv."""
    if missing_on_ci(os.geteuid() != 0 or shutil.which("setpriv") is None):  # CI runs as root
        pytest.skip("needs root and setpriv to run as nobody")
    top = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        os.chmod(top, 0o755)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)  # root's: whatever modes the test left
