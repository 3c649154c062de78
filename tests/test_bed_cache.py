"""Converted beds in the audio cache (issue 23, item 15): counted by `cache info`, one per file
however often it is edited, never longer than a session can last, nothing left by a refusal.
Real files made by Debian's ffmpeg, converted by the program's own."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sisessions.errors import UsageError
from sisessions.sources import bed
from sisessions.sources.bed import RATE, WIDTH, converted
from tests.conftest import run_cli


def tone(path: Path, seconds: float, volume: float = 0.3) -> Path:
    subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=220:duration={seconds}", "-af", f"volume={volume}", str(path)], check=True)
    return path


def beds_in(cache: Path) -> list[str]:
    folder = cache / "beds"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_cache_info_counts_the_converted_beds(fresh_cache, tmp_path):
    raw, _ = converted(tone(tmp_path / "rain.wav", 30), fresh_cache)
    out = run_cli("cache", "info", check=0).stdout
    size = raw.stat().st_size + (raw.with_suffix(".json")).stat().st_size
    assert f"beds: 1 ({size / 1e6:.1f} MB)" in out
    assert f"size: {size / 1e6:.1f} MB" in out  # no clips yet: the beds are the whole size


def test_an_edited_bed_replaces_its_conversion(fresh_cache, tmp_path):
    f = tone(tmp_path / "rain.wav", 10)
    first, _ = converted(f, fresh_cache)
    for seconds in (12, 14, 16):
        tone(f, seconds)
        again, _ = converted(f, fresh_cache)
    assert again == first
    assert len([n for n in beds_in(fresh_cache) if n.endswith(".s16")]) == 1
    assert again.stat().st_size // WIDTH == pytest.approx((16 - bed.XFADE) * RATE, abs=RATE // 10)


def test_a_long_bed_is_converted_only_as_far_as_a_session_lasts(fresh_cache, tmp_path, monkeypatch):
    """The limit is 3 hours; at 5 s a 20 s file shows it without writing gigabytes."""
    monkeypatch.setattr(bed, "MAX_SECONDS", 5, raising=False)
    raw, _ = converted(tone(tmp_path / "long.wav", 20), fresh_cache)
    n = 5 * RATE
    assert raw.stat().st_size // WIDTH == pytest.approx(n - min(bed.XFADE * RATE, n // 4), abs=RATE // 10)


def test_a_silent_bed_leaves_no_conversion(fresh_cache, tmp_path):
    with pytest.raises(UsageError, match="the file is silent"):
        converted(tone(tmp_path / "quiet.wav", 10, volume=0), fresh_cache)
    assert beds_in(fresh_cache) == []
