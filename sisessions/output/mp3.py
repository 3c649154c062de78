"""Stream PCM chunks into ffmpeg's MP3 encoder, tag the result, and rename it into place."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from sisessions.audio import CHANNELS, RATE, ffmpeg_exe
from sisessions.errors import AudioError
from sisessions.fileio import atomic_path, clean_stale_parts

DEFAULT_BITRATE = 64


def encode_mp3(chunks: Iterable[bytes], out: Path, bitrate: int = DEFAULT_BITRATE) -> None:
    """Encode raw s16le PCM to MP3 at `out` (overwritten) through one ffmpeg process."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "s16le", "-ar", str(RATE), "-ac", str(CHANNELS), "-i", "pipe:0",
           "-codec:a", "libmp3lame", "-b:a", f"{bitrate}k", "-ac", "1", "-f", "mp3", str(out)]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)  # Ctrl-C is ours to handle
        except OSError as e:
            raise AudioError(f"could not start ffmpeg ({e.strerror or e})") from e
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
            code = proc.wait()
        except BrokenPipeError:
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else f"ffmpeg exit {code}"
            raise AudioError(f"could not write the MP3: {reason}")


def write_mp3(chunks: Iterable[bytes], target: Path, bitrate: int = DEFAULT_BITRATE,
              tag: Callable[[Path], None] | None = None) -> None:
    """The MP3 appears at `target` only when encoded and tagged completely."""
    clean_stale_parts(Path(target).parent)  # what a SIGKILLed export left, never to be synced
    with atomic_path(target, suffix=".mp3") as tmp:
        encode_mp3(chunks, tmp, bitrate)
        if tag is not None:
            tag(tmp)
