"""A streak that does not nag: `log --streak off` hides it (saved as `show_streak`), the log keeps
recording, and `--streak on` brings it back."""
from __future__ import annotations

import json

from sisessions import paths


def test_the_streak_can_be_hidden_and_shown_again_while_the_log_keeps_recording(cli):
    cli("log", "--done", "towel", check=0)
    shown = cli("log", check=0).stdout
    assert "Streak: 1 day in a row." in shown

    proc = cli("log", "--streak", "off", check=0)
    assert "hidden" in proc.stdout
    settings = json.loads((paths.config_dir() / "settings.json").read_text())
    assert settings["show_streak"] is False  # the key the companion reads too

    cli("log", "--done", "check", check=0)  # practice is still recorded
    hidden = cli("log", check=0).stdout
    assert "Streak" not in hidden and "streak" not in hidden
    today = hidden.splitlines()[1]
    assert "towel" in today and "check" in today

    cli("log", "--streak", "on", check=0)
    assert "Streak: 1 day in a row." in cli("log", check=0).stdout


def test_a_bad_streak_value_is_exit_2(cli):
    proc = cli("log", "--streak", "maybe")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
