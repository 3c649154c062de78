"""Nothing lost, nothing half-written (issue 23): the practice log and the settings under hostile
conditions, as real processes meet them: concurrent writers, a full disk (a real tmpfs), bytes
that are not text, a FIFO or /dev/zero where a file should be, closed streams, cron's $HOME."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sisessions.practice import log, settings
from tests.conftest import FIXTURES, run_cli
from tests.disk import fill, tiny_disk


def data_file(home: Path) -> Path:
    return home / "data" / "sisessions" / "practice.jsonl"


def cli_env(home: Path) -> dict:
    return {"XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}


# ---------------------------------------------------------------- 2: one writer at a time


WRITER = """
import sys
from sisessions.practice import settings
tag, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    settings.save_value(f"{tag}{i}", i)
"""


def test_settings_written_by_concurrent_processes_lose_no_change(isolated):
    """Two processes (`side set` beside the companion saving the streak choice) each saving
    their own keys: every key of both is there at the end, none undone by the other."""
    env = dict(os.environ)
    n = 60
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag, str(n)], env=env) for tag in ("a", "b", "c")]
    for p in procs:
        assert p.wait(120) == 0
    saved = settings.load()
    missing = [f"{t}{i}" for t in "abc" for i in range(n) if f"{t}{i}" not in saved]
    assert missing == []


def test_side_set_beside_the_companion_saving_settings_is_never_reverted(isolated):
    """12 `side set` commands while another process keeps saving a setting: each one sticks."""
    env = dict(os.environ)
    saver = subprocess.Popen([sys.executable, "-c", WRITER, "s", "100000"], env=env)
    try:
        for k in range(12):
            side = "left" if k % 2 else "right"
            run_cli("side", "set", side, check=0)
            assert settings.saved_side() == side, k
    finally:
        saver.kill()
        saver.wait()


# ---------------------------------------------------------------- 3, 11: what a note may hold


@pytest.mark.parametrize("note, why", [
    ("a\udcffb", "not UTF-8"),            # what click makes of `--note $'a\xffb'`
    ("a\x85b", "U+0085"),                 # C1: NEL, a line break to some terminals
    ("a\x1b[2Jb", "U+001B"),              # an escape sequence that clears the screen
    ("a\u2028b", "U+2028"),               # a line separator
])
def test_a_note_that_is_not_plain_text_is_exit_2_and_nothing_is_written(isolated, note, why):
    env = cli_env(isolated)
    proc = subprocess.run([sys.executable, "-m", "sisessions", "log", "--pain", "3", "--note", note],
                          capture_output=True, env={**{k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"},
                                                    **env}, errors="surrogateescape", text=True)
    assert proc.returncode == 2, proc.stderr
    assert why in proc.stderr and proc.stderr.startswith("sisessions: The note holds ")
    assert proc.stderr.count("\n") == 1
    assert not data_file(isolated).exists()


def test_a_note_in_the_log_cannot_forge_a_line_of_the_summary(isolated):
    """A record written by an older version (or by hand) with a newline, C1 and a bidi control
    in its note: `sisessions log` shows them escaped, on the day's own line."""
    f = data_file(isolated)
    f.parent.mkdir(parents=True)
    rec = {"kind": "pain", "time": log.now(), "pain": 2,
           "note": "ok\n* Mon 01 Jan  daily 20 min (done)\x85\u202eevil"}
    f.write_text(json.dumps(rec) + "\n")
    out = run_cli("log", "--days", "1", check=0).stdout
    lines = out.splitlines()
    assert len(lines) == 3, out  # the heading, today, the streak
    assert "ok\\x0a* Mon 01 Jan" in lines[1] and "\\x85\\u202eevil" in lines[1]


def test_a_newline_in_a_note_is_kept_in_the_record(isolated):
    """The page's note is a textarea: a newline is kept (JSON escapes it: one record, one line)."""
    log.append(log.pain_record(3, "stiff\nbetter later"))
    assert data_file(isolated).read_text().count("\n") == 1
    [rec], _ = log.read()
    assert rec.note == "stiff\nbetter later"


# ---------------------------------------------------------------- 4: a full disk


def test_a_full_disk_during_log_leaves_no_torn_line(isolated, tmp_path):
    with tiny_disk(tmp_path / "disk") as disk:
        env = {"XDG_DATA_HOME": str(disk), "XDG_CONFIG_HOME": str(isolated / "config")}
        run_cli("log", "--pain", "1", "--note", "x" * 400, env=env, check=0)
        f = disk / "sisessions" / "practice.jsonl"
        # the log ends close to a page boundary: the next line needs a page the disk has not got
        while f.stat().st_size < 3500:
            run_cli("log", "--pain", "1", "--note", "x" * 400, env=env, check=0)
        before = f.read_bytes()
        fill(disk)
        proc = run_cli("log", "--pain", "4", "--note", "é" * 500, env=env)
        assert proc.returncode == 1, proc.stderr
        assert "could not be written" in proc.stderr and "nothing was recorded" in proc.stderr
        assert proc.stderr.count("\n") == 1
        assert f.read_bytes() == before
        (disk / "filler").unlink()
        run_cli("log", "--pain", "5", env=env, check=0)
        assert f.read_bytes().startswith(before)
        assert '"pain": 5' in f.read_text().splitlines()[-1]
        assert run_cli("log", env=env, check=0).stderr == ""  # every line readable


# ---------------------------------------------------------------- 5: health data is private


def test_the_log_and_the_settings_are_0600_in_0700_folders(isolated):
    os.umask(0o022)
    run_cli("log", "--pain", "3", check=0)
    run_cli("side", "set", "left", check=0)
    f, s = data_file(isolated), isolated / "config" / "sisessions" / "settings.json"
    assert f.stat().st_mode & 0o777 == 0o600
    assert s.stat().st_mode & 0o777 == 0o600
    assert f.parent.stat().st_mode & 0o777 == 0o700
    assert s.parent.stat().st_mode & 0o777 == 0o700


def test_an_existing_readable_log_becomes_private_at_the_next_write(isolated):
    f = data_file(isolated)
    f.parent.mkdir(parents=True, mode=0o755)
    os.chmod(f.parent, 0o755)
    f.write_text("")
    os.chmod(f, 0o644)
    run_cli("log", "--pain", "3", check=0)
    assert f.stat().st_mode & 0o777 == 0o600 and f.parent.stat().st_mode & 0o777 == 0o700


# ---------------------------------------------------------------- 12, 13: odd files and streams


def no_file(f: Path, what: str) -> None:
    """Make `f` what no settings file or log is: a FIFO, a link to /dev/zero, a folder, or a
    sparse 3 GB file ("huge")."""
    f.parent.mkdir(parents=True)
    if what == "fifo":
        os.mkfifo(f)
    elif what == "zero":
        f.symlink_to("/dev/zero")
    elif what == "folder":
        f.mkdir()
    else:
        with open(f, "wb") as out:
            out.truncate(3 << 30)  # sparse: 3 GB of nothing on disk


@pytest.mark.parametrize("what", ["fifo", "zero", "huge"])
def test_a_settings_file_that_is_no_file_is_one_sentence_at_once(isolated, what):
    f = isolated / "config" / "sisessions" / "settings.json"
    no_file(f, what)
    proc = run_cli("side", "show", timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"sisessions: The settings file {f} cannot be read")
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("what", ["fifo", "zero", "folder"])
def test_a_practice_log_that_is_no_file_is_one_sentence_and_never_written(isolated, what):
    f = data_file(isolated)
    no_file(f, what)
    shown = run_cli("log", timeout=30)
    assert shown.returncode == 1 and shown.stderr.startswith(f"sisessions: The practice log {f} cannot be read")
    wrote = run_cli("log", "--pain", "3", timeout=30)
    assert wrote.returncode == 1 and "nothing was recorded" in wrote.stderr, wrote.stderr
    assert wrote.stderr.count("\n") == 1


def test_log_and_side_with_stdout_closed_still_do_their_work(isolated):
    """`cmd >&-` (cron lines do that): Python has no sys.stdout; the work is done all the same."""
    env = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    for args in (["side", "set", "left"], ["log", "--pain", "2"]):
        proc = subprocess.run(["sh", "-c", 'exec "$0" -m sisessions "$@" >&-', sys.executable, *args],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
    assert settings.saved_side() == "left"
    assert [r.pain for r in log.read()[0]] == [2]


# ---------------------------------------------------------------- 14: cron starts in $HOME


def test_a_relative_bed_voice_and_scripts_folder_are_stored_absolute(isolated, tmp_path, monkeypatch):
    from sisessions.choices import Choices
    from sisessions.schedule import spec

    work = tmp_path / "work"
    (work / "lib").mkdir(parents=True)
    (work / "rain.wav").write_bytes(b"")
    (work / "my.onnx").write_bytes(b"")
    monkeypatch.chdir(work)
    monkeypatch.setenv("SISESSIONS_SCRIPTS", "lib" + os.pathsep + str(FIXTURES / "phone"))
    args = Choices(bed="rain.wav", voice="my.onnx").args()
    assert args == ["--voice", str(work / "my.onnx"), "--bed", str(work / "rain.wav")]
    assert Choices(bed="brown", voice="en-us").args() == ["--voice", "en-us", "--bed", "brown"]
    env = dict(spec.environment(spec.make_spec("07:00", "daily", "short", None, args), None))
    assert env["SISESSIONS_SCRIPTS"] == str(work / "lib") + os.pathsep + str(FIXTURES / "phone")
