"""ID3 tags for exported MP3s, written with mutagen as ID3v2.3 (what most players read)."""
from __future__ import annotations

from pathlib import Path

from mutagen.id3 import ID3, TALB, TCON, TIT2, TPE1, ID3NoHeaderError

from sisessions.timeline import Timeline

ARTIST = "sisessions"


def session_title(tl: Timeline) -> str:
    return f"{tl.title} ({tl.side} side)" if tl.side and _sided(tl) else tl.title


def _sided(tl: Timeline) -> bool:
    return any(c.side for c in tl.cues)


def write_tags(path: Path, tl: Timeline, album: str = "sisessions") -> None:
    try:
        tags = ID3(str(path))
    except ID3NoHeaderError:
        tags = ID3()
    tags.add(TIT2(encoding=3, text=session_title(tl)))
    tags.add(TPE1(encoding=3, text=ARTIST))
    tags.add(TALB(encoding=3, text=album))
    tags.add(TCON(encoding=3, text="Speech"))
    tags.save(str(path), v2_version=3)
