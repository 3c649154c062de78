"""The command line end to end: help, exit codes, one-line errors, side, install, engines."""
from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys

import click
import pytest

from sisessions.cli import main
from tests.conftest import FIXTURES, ROOT, run_cli, signal_every_worker


def all_commands(group=main, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [p for p, _ in all_commands()], ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path):
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    cmd = dict(all_commands())[path]
    assert cmd.help and "Example: sisessions" in cmd.help, path


def test_version_and_module_entry_point():
    out = run_cli("--version", check=0).stdout
    assert out.startswith("sisessions, version ")


@pytest.mark.parametrize("args,words", [
    (["show", "no-such-session"], "unknown session 'no-such-session'"),
    (["show", "towl"], "did you mean 'towel'"),
    (["export", "towel", "--pace", "9"], "--pace"),
    (["export", "towel", "--rate", "500"], "--rate"),
    (["show", "towel", "--engine", "nope"], "unknown engine 'nope'"),
    (["show", "towel", "--skip", "nope"], "not in session"),
    (["side", "set", "middle"], "'middle' is not one of"),
    (["validate", "/no/such/file.yaml"], "no such file"),
    (["nonsense"], "No such command"),
])
def test_bad_input_is_exit_2_with_one_clear_line(args, words):
    proc = run_cli(*args, check=2)
    assert words.lower() in proc.stderr.lower()
    assert "Traceback" not in proc.stderr


def test_missing_side_is_exit_2_and_says_how(tmp_path):
    proc = run_cli("show", "reshape", check=2)  # its patterns work toward the working side
    assert proc.stderr.strip().count("\n") == 0
    assert "--side left" in proc.stderr and "sisessions side set" in proc.stderr
    assert "check session" in proc.stderr and "once" not in proc.stderr  # checked before each practice
    assert "check session" in run_cli("side", "show", check=0).stdout


def test_side_saved_in_user_config_and_used(isolated):
    assert "No working side saved" in run_cli("side", "show", check=0).stdout
    run_cli("side", "set", "right", check=0)
    assert run_cli("side", "show", check=0).stdout.strip() == "right"
    saved = json.loads((isolated / "config" / "sisessions" / "settings.json").read_text())
    assert saved == {"side": "right", "side_saved": datetime.date.today().isoformat()}
    tl = json.loads(run_cli("--scripts", FIXTURES / "lib", "show", "mini", "--json", check=0).stdout)
    assert tl["side"] == "right"
    tl = json.loads(run_cli("--scripts", FIXTURES / "lib", "show", "mini", "--json", "--side", "left", check=0).stdout)
    assert tl["side"] == "left"


def test_list_shows_ids_titles_stages_lengths():
    out = run_cli("list", check=0).stdout
    assert "SESSIONS" in out and "PATTERNS" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("towel-wall-rock"))
    assert "unlock" in line and "~" in line


def test_show_table_is_readable():
    out = run_cli("--scripts", FIXTURES / "lib", "show", "fixed", check=0).stdout
    lines = out.splitlines()
    assert lines[0].startswith("Fixed Side (fixed)")
    assert any("Roll to your left side." in ln for ln in lines)
    assert lines[-1].strip().endswith("end")


def test_engines_lists_espeak():
    out = run_cli("engines", check=0).stdout
    assert "espeak" in out


def test_hung_engine_is_stopped_with_one_sentence(fresh_cache):
    """A real engine worker, frozen with SIGSTOP, must not freeze the session."""
    code, out, err, stopped = signal_every_worker(
        ["--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak"], signal.SIGSTOP,
        env={"SISESSIONS_ENGINE_TIMEOUT": "1"})
    assert stopped, "no engine worker was seen"
    assert code == 1, (out, err)
    assert "did not answer within" in err and err.count("\n") == 1
    # each voice thread tries its line twice and then no thread starts another: the person
    # waits two timeouts, not two for every line of the session (fixed has 11)
    from sisessions.voice.speech import default_jobs

    assert len(stopped) <= 2 * default_jobs(), f"{len(stopped)} engine workers were started"


def test_plain_pip_install_finds_the_builtin_library(tmp_path):
    """A non-editable install (a wheel built from this tree) carries scripts/ inside it."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT)], check=True, capture_output=True)
    assert (target / "sisessions" / "scripts" / "sessions" / "towel.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-m", "sisessions", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "towel" in proc.stdout
    where = subprocess.run([sys.executable, "-c", "import sisessions.paths as p; print(p.builtin_scripts())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    assert where.startswith(str(target))


NOT_NUMBERS = [
    ["show", "towel", "--pace", "nan"],
    ["export", "towel", "--pace", "NaN", "-o", "{tmp}/towel.mp3"],
    ["synth", "towel", "--minutes", "nan"],
    ["show", "towel", "--minutes", "inf"],
    ["export", "towel", "--bed-level", "nan", "-o", "{tmp}/towel.mp3"],
    ["play", "towel", "--delay", "nan"],
    ["schedule", "add", "towel", "--at", "07:00", "--pace", "nan", "--dry-run"],
]


@pytest.mark.parametrize("args", NOT_NUMBERS, ids=lambda a: " ".join(a))
def test_nan_and_infinity_options_are_exit_2(args, tmp_path):
    """Issue 10 item 9: NaN passes FloatRange's checks (every comparison with it is false)."""
    proc = run_cli(*(a.format(tmp=tmp_path) for a in args), check=2)
    option = next(a for a in args if a.startswith("--") and a != "--at")
    assert f"'{option}'" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("*.mp3"))
