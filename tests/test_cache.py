"""The clip cache: what makes a key, what counts as a hit, atomic writes, concurrent synthesis."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from sisessions.voice.cache import Cache, clip_frames
from sisessions.voice.engines.base import SpeechSettings
from tests.conftest import FIXTURES, run_cli

BASE = SpeechSettings("espeak", "1.0", "en-us", "en-us", 110, (("rate", 92),))


@pytest.mark.parametrize("field,value", [("engine", "piper"), ("engine_version", "1.1"), ("voice", "en-gb"),
                                         ("voice_id", "sha256:abc"), ("rate", 100), ("params", (("rate", 80),))])
def test_every_setting_changes_the_key(field, value):
    other = dataclasses.replace(BASE, **{field: value})
    assert Cache.key(other, "Rest.") != Cache.key(BASE, "Rest.")


def test_same_settings_and_text_same_key_other_text_other_key():
    assert Cache.key(BASE, "Rest.") == Cache.key(dataclasses.replace(BASE), "Rest.")
    assert Cache.key(BASE, "Rest.") != Cache.key(BASE, "Rest now.")


def test_put_get_and_bad_entries_are_misses(tmp_path):
    c = Cache(tmp_path)
    k = Cache.key(BASE, "Rest.")
    assert c.get(k) is None
    path, frames = c.put(k, b"\x01\x00" * 1000)
    assert c.get(k) == (path, 1000)
    assert not list(path.parent.glob(".*.part"))
    path.write_bytes(b"")                                      # a 0-byte entry
    assert c.get(k) is None
    c.put(k, b"\x01\x00" * 1000)
    path.write_bytes(path.read_bytes()[:-10])                  # a truncated entry
    assert c.get(k) is None
    path.write_bytes(b"RIFF" + b"\x00" * 100)                  # garbage
    assert c.get(k) is None and clip_frames(path) is None


def test_corrupt_entry_is_made_again(fresh_cache):
    # an own cache: in the shared one the victim could be another test's (or engine's) clip
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    cache = Cache(fresh_cache)
    victim = next(cache.clips.glob("*/*.wav"))
    victim.write_bytes(b"")
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    assert clip_frames(victim) is not None


def test_two_processes_synthesizing_at_once_both_succeed(fresh_cache):
    args = [sys.executable, "-m", "sisessions", "--scripts", str(FIXTURES / "lib"), "synth", "mini", "--side", "left"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    clips = list((fresh_cache / "clips").glob("*/*.wav"))
    assert clips and all(clip_frames(c) for c in clips)
    assert not list((fresh_cache / "clips").glob("*/.*"))      # no temp files left behind
    again = run_cli("--scripts", FIXTURES / "lib", "synth", "mini", "--side", "left", check=0)
    assert again.stdout.startswith("0 new clips")


def test_killed_synthesis_leaves_only_complete_entries(fresh_cache):
    args = [sys.executable, "-m", "sisessions", "synth", "towel", "--engine", "espeak"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 120
    while time.time() < end and len(list(fresh_cache.glob("clips/*/*.wav"))) < 3:
        time.sleep(0.01)
    assert p.poll() is None, "synthesis ended before it could be killed mid-way"
    p.send_signal(signal.SIGKILL)
    p.wait()
    clips = list(fresh_cache.glob("clips/*/*.wav"))
    assert len(clips) >= 3
    for f in clips:
        assert clip_frames(f) is not None, f


def test_cache_info_and_clear(cli, fresh_cache):
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", check=0)
    info = run_cli("cache", "info", check=0).stdout
    assert f"place: {fresh_cache}" in info
    n = int(info.split("clips: ")[1].split()[0])
    assert n > 0 and "MB" in info
    assert run_cli("cache", "clear", check=0).stdout.startswith(f"Removed {n} clip")
    assert "clips: 0" in run_cli("cache", "info", check=0).stdout


def test_cache_dir_option_overrides_env(tmp_path):
    d = tmp_path / "elsewhere"
    out = run_cli("--cache-dir", d, "cache", "info", check=0).stdout
    assert f"place: {d}" in out


def test_atomic_files_follow_the_umask(tmp_path):
    from sisessions.fileio import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
