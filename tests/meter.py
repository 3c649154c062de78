"""ffmpeg's own loudness meter (ebur128 with peak=true): an implementation independent of
sisessions' own (voice/loudness.py), for the tests that measure whole exports."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

DEBIAN_FFMPEG = "/usr/bin/ffmpeg"


def ebur128(path: Path, ffmpeg: str = DEBIAN_FFMPEG) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of an audio file, in one pass; ffmpeg prints both to
    0.1 (LU or dB)."""
    err = subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    summary = err.split("Summary:")[-1]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
            float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+)", summary).group(1)))
