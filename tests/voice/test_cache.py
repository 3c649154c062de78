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
    c = Cache(tmp_path / "cache")
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


def _damage(path, at=0.5, n=64):
    """Overwrite n bytes of samples in the middle: header and size stay right."""
    data = bytearray(path.read_bytes())
    i = 44 + int((len(data) - 44) * at) // 2 * 2
    data[i:i + n] = os.urandom(n)
    path.write_bytes(bytes(data))


def test_damaged_samples_are_a_miss(tmp_path):
    c = Cache(tmp_path / "cache")
    k = Cache.key(BASE, "Rest.")
    pcm = b"".join(int(3000 * ((i % 50) - 25) / 25).to_bytes(2, "little", signed=True) for i in range(4000))
    path, _ = c.put(k, pcm)
    _damage(path)
    assert path.stat().st_size == 44 + len(pcm) and c.get(k) is None
    fixed, frames = c.put(k, pcm)
    assert c.get(k) == (fixed, 4000) and len(list(fixed.parent.iterdir())) == 1


def test_entry_of_an_earlier_version_without_checksum_is_a_miss(tmp_path):
    c = Cache(tmp_path / "cache")
    k = Cache.key(BASE, "Rest.")
    path, _ = c.put(k, b"\x01\x00" * 1000)
    old = path.with_name(f"{k}.wav")                            # the layout before checksums
    path.rename(old)
    assert c.get(k) is None
    c.put(k, b"\x01\x00" * 1000)
    assert not old.exists()                                     # replaced, never left to rot


def test_damaged_clip_is_made_again_by_export(fresh_cache, tmp_path):
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    cache = Cache(fresh_cache)
    victim = max(cache.clips.glob("*/*.wav"), key=lambda p: p.stat().st_size)
    _damage(victim, n=4096)
    assert cache.get(victim.name.split(".")[0]) is None
    out = run_cli("--scripts", FIXTURES / "lib", "export", "fixed", "--engine", "espeak",
                  "-o", tmp_path / "f.wav", check=0)
    assert "Wrote" in out.stdout
    again = cache.get(victim.name.split(".")[0])                 # made again, the damaged copy gone
    assert again is not None and (not victim.exists() or clip_frames(victim) is not None)


def test_corrupt_entry_is_made_again(fresh_cache):
    # an own cache: in the shared one the victim could be another test's (or engine's) clip
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    cache = Cache(fresh_cache)
    victim = next(cache.clips.glob("*/*.wav"))
    victim.write_bytes(b"")
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    assert cache.get(victim.name.split(".")[0]) is not None     # made again (its checksum may differ)
    assert not victim.exists() or clip_frames(victim) is not None


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


def test_clear_removes_only_clips_and_names_the_rest(fresh_cache):
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    clips = list(fresh_cache.glob("clips/*/*.wav"))
    sub = clips[0].parent
    theirs = [fresh_cache / "clips" / "holiday.jpg", sub / "notes.txt", sub / "beach.wav",
              fresh_cache / "clips" / "album" / "01-song.wav"]
    for f in theirs:
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"yours")
    out = run_cli("cache", "clear", check=0).stdout.splitlines()
    assert out[0] == f"Removed {len(clips)} clip{'s' if len(clips) != 1 else ''} from {fresh_cache}."
    assert out[1].startswith("Left 4 files that are not clips: ")
    named = [str(f.relative_to(fresh_cache)) for f in theirs[:3]] + ["clips/album"]  # a folder: as one
    assert sorted(out[1].split(": ", 1)[1].rstrip(".").split(", ")) == sorted(named) and len(out) == 2
    assert all(f.read_bytes() == b"yours" for f in theirs)
    assert not any(c.exists() for c in clips)


def test_clear_removes_converted_beds_too_and_counts_them(tmp_path):
    c = Cache(tmp_path / "cache")
    c.put(Cache.key(BASE, "Rest."), b"\x01\x00" * 1000)
    beds = c.root / "beds"
    beds.mkdir()
    for name in ("0123456789abcdef0123456789abcdef.s16", "0123456789abcdef0123456789abcdef.json"):
        (beds / name).write_bytes(b"bed")
    (beds / "rain.flac").write_bytes(b"yours")
    proc = run_cli("--cache-dir", c.root, "cache", "clear", check=0)
    assert proc.stdout.splitlines() == [f"Removed 1 clip and 2 converted bed files from {c.root}.",
                                        "Left 1 file that is not a clip: beds/rain.flac."]


def test_a_folder_that_never_was_a_cache_is_refused(tmp_path):
    photos = tmp_path / "Pictures"
    (photos / "clips" / "2019").mkdir(parents=True)
    mine = [photos / "clips" / "2019" / "img_001.jpg", photos / "clips" / "cover.wav", photos / "me.jpg"]
    for f in mine:
        f.write_bytes(b"photo")
    before = sorted(p for p in photos.rglob("*"))
    proc = run_cli("--cache-dir", photos, "cache", "clear", check=1)
    assert len(proc.stderr.strip().splitlines()) == 1 and "not a sisessions audio cache" in proc.stderr
    assert "Removed" not in proc.stdout
    proc = run_cli("--cache-dir", photos, "--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak",
                   check=1)
    assert len(proc.stderr.strip().splitlines()) == 1 and "not a sisessions audio cache" in proc.stderr
    assert sorted(p for p in photos.rglob("*")) == before        # nothing written, nothing removed
    assert all(f.read_bytes() == b"photo" for f in mine)


def test_a_cache_of_an_earlier_version_is_adopted(tmp_path):
    old = tmp_path / "old-cache"
    k = Cache.key(BASE, "Rest.")
    (old / "clips" / k[:2]).mkdir(parents=True)
    (old / "clips" / k[:2] / f"{k}.wav").write_bytes(b"RIFF" + b"\x00" * 100)
    out = run_cli("--cache-dir", old, "cache", "clear", check=0).stdout
    assert out.strip() == f"Removed 1 clip from {old}."
    assert (old / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert not (old / "clips").exists()


def test_a_new_cache_is_marked(fresh_cache):
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    assert "created by sisessions" in (fresh_cache / "CACHEDIR.TAG").read_text()


def test_cache_info_and_clear(cli, fresh_cache):
    run_cli("--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
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


def test_a_checkouts_audio_cache_with_its_gitkeep_is_ours(tmp_path):
    """The checkout's audio_cache/ holds the empty .gitkeep that keeps it in git, and clips of an
    earlier version: it is used (README's first command writes there), and .gitkeep stays."""
    cache = tmp_path / "audio_cache"
    k = Cache.key(BASE, "Rest.")
    (cache / "clips" / k[:2]).mkdir(parents=True)
    (cache / "clips" / k[:2] / f"{k}.wav").write_bytes(b"RIFF" + b"\x00" * 100)
    (cache / ".gitkeep").write_bytes(b"")
    run_cli("--cache-dir", cache, "--scripts", FIXTURES / "lib", "synth", "fixed", "--engine", "espeak", check=0)
    assert (cache / "CACHEDIR.TAG").is_file()
    out = run_cli("--cache-dir", cache, "cache", "clear", check=0)
    assert out.stdout.startswith("Removed ") and "not a clip" not in out.stdout + out.stderr
    assert (cache / ".gitkeep").read_bytes() == b""
