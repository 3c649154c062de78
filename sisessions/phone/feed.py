"""A private podcast feed (RSS 2.0, iTunes and Podcasting 2.0 tags) for the MP3s in a folder."""
from __future__ import annotations

import datetime
import email.utils
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

from sisessions.errors import UsageError
from sisessions.fileio import atomic_path, clean_stale_parts
from sisessions.output.chapters import json_chapters, read_id3
from sisessions.output.tags import ARTIST
from sisessions.sources.cover import FEED_SIZE, cover_png

FEED = "feed.xml"
COVER = "feed-cover.png"
CHAPTERS = "feed-chapters"   # one Podcasting 2.0 JSON per episode
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
DESCRIPTION = "Your sisessions, made on your own computer: slow, spoken movement sessions."


@dataclass(frozen=True)
class Episode:
    file: Path
    title: str
    size: int
    seconds: float
    published: datetime.datetime
    chapters: tuple[tuple[float, float, str], ...]
    comment: str
    chapters_file: Path | None = None   # the Podcasting 2.0 JSON, when there is one
    transcript: Path | None = None      # the .vtt beside the MP3, when there is one


@dataclass(frozen=True)
class FeedWritten:
    path: Path
    url: str
    episodes: int
    skipped: tuple[Path, ...]     # MP3s that could not be read
    misnamed: tuple[Path, ...] = ()   # MP3s whose file name is not UTF-8: no URL can name them


def check_base_url(base_url: str) -> str:
    """The base URL with a final slash, and %-escaped where it is not (a space in a folder name)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--base-url {base_url}: give the address the folder is served at, "
                         "like http://192.168.1.20:8765/")
    path = quote(parts.path, safe="/%:@!$&'()*+,;=~")
    base = f"{parts.scheme}://{quote(parts.netloc, safe=':@[]%')}{path}"
    return base if base.endswith("/") else base + "/"


def write_feed(folder: Path, base_url: str, title: str = ARTIST) -> FeedWritten:
    """FOLDER/feed.xml for FOLDER's MP3s (newest first), with a cover and chapters beside it."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    base = check_base_url(base_url)
    clean_stale_parts(folder)  # a feed.xml or export that a SIGKILL cut short
    episodes, skipped = read_episodes(folder)
    misnamed = [f for f in skipped if not utf8_name(f)]
    skipped = [f for f in skipped if utf8_name(f)]
    _write_if_changed(folder / COVER, cover_png(FEED_SIZE))
    _write_chapters(folder, episodes)
    xml = render(episodes, base, title)
    target = folder / FEED
    _write_if_changed(target, xml)
    return FeedWritten(target, base + FEED, len(episodes), tuple(skipped), tuple(misnamed))


def read_episodes(folder: Path) -> tuple[list[Episode], list[Path]]:
    from mutagen import MutagenError
    from mutagen.mp3 import MP3

    episodes, skipped = [], []
    for f in sorted(folder.glob("*.mp3")):
        if f.name.startswith(".") or not f.is_file():
            continue  # hidden: temp files of an export in progress
        if not utf8_name(f):
            skipped.append(f)  # its name cannot go into the XML or a URL the phone asks for
            continue
        try:
            audio = MP3(str(f))
        except (MutagenError, OSError):
            skipped.append(f)
            continue
        st = f.stat()
        tags = audio.tags
        title = str(tags["TIT2"].text[0]) if tags is not None and "TIT2" in tags else f.stem
        comms = tags.getall("COMM") if tags is not None else []
        chs = tuple(read_id3(tags)) if tags is not None else ()
        published = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
        vtt = f.with_suffix(".vtt")
        episodes.append(Episode(f, title, st.st_size, audio.info.length, published, chs,
                                str(comms[0].text[0]) if comms and comms[0].text else "",
                                folder / CHAPTERS / f"{f.stem}.json" if chs else None,
                                vtt if vtt.is_file() else None))
    episodes.sort(key=lambda e: (e.published, e.file.name), reverse=True)
    return episodes, skipped


def utf8_name(f: Path) -> bool:
    """False for a name whose bytes are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        f.name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(f: Path) -> str:
    """A file name fit to print: bytes that are not UTF-8 as \\xNN."""
    return f.name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# XML 1.0 can carry only these characters (tab, newline, return and printable ones); anything
# else, a control character in a title or a lone surrogate, would leave the whole feed unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def guid(ep: Episode) -> str:
    """Stable while the file is unchanged; a re-export under the same name is a new episode."""
    key = f"{ep.file.name}:{ep.size}:{ep.published.timestamp():.0f}"
    return "sisessions-" + hashlib.sha1(key.encode()).hexdigest()[:20]


def duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _url(base: str, rel: str) -> str:
    return base + quote(rel)


def render(episodes: list[Episode], base: str, title: str,
           link: Callable[[Path], str] | None = None, cover: str | None = None,
           self_url: str | None = None) -> bytes:
    """The feed's XML. `link` gives the URL of an episode's file (default: its name under base),
    `cover` the cover's URL (default: feed-cover.png under base), `self_url` the feed's own
    address that an app adopts when it reads the feed (default: feed.xml under base)."""
    cover = cover or _url(base, COVER)
    link = link or (lambda p: _url(base, p.relative_to(p.parent.parent).as_posix()
                                   if p.parent.name == CHAPTERS else p.name))
    for prefix, uri in (("itunes", ITUNES), ("podcast", PODCAST), ("atom", ATOM)):
        ET.register_namespace(prefix, uri)
    it = lambda name: f"{{{ITUNES}}}{name}"  # noqa: E731
    rss = ET.Element("rss", {"version": "2.0"})
    ch = ET.SubElement(rss, "channel")
    _text(ch, "title", title)
    _text(ch, "link", base)
    _text(ch, "description", DESCRIPTION)
    _text(ch, "language", "en")
    _text(ch, "generator", ARTIST)
    if episodes:  # the newest episode's time, so an unchanged folder gives an unchanged feed
        _text(ch, "lastBuildDate", email.utils.format_datetime(max(e.published for e in episodes)))
    ET.SubElement(ch, f"{{{ATOM}}}link", {"href": self_url or base + FEED, "rel": "self", "type": "application/rss+xml"})
    img = ET.SubElement(ch, "image")
    _text(img, "url", cover)
    _text(img, "title", title)
    _text(img, "link", base)
    ET.SubElement(ch, it("image"), {"href": cover})
    _text(ch, it("author"), ARTIST)
    _text(ch, it("summary"), DESCRIPTION)
    ET.SubElement(ch, it("category"), {"text": "Health & Fitness"})
    _text(ch, it("explicit"), "false")
    _text(ch, it("type"), "episodic")
    _text(ch, it("block"), "Yes")  # a private feed: podcast directories must not list it
    for ep in episodes:
        _item(ch, ep, link)
    ET.indent(rss, space=" ")
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"


def _item(ch: ET.Element, ep: Episode, link: Callable[[Path], str]) -> None:
    it = lambda name: f"{{{ITUNES}}}{name}"  # noqa: E731
    item = ET.SubElement(ch, "item")
    day = ep.published.astimezone().date()
    _text(item, "title", f"{ep.title}, {day.isoformat()}")
    _text(item, "description", _description(ep))
    ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = guid(ep)
    _text(item, "pubDate", email.utils.format_datetime(ep.published))
    ET.SubElement(item, "enclosure", {"url": link(ep.file), "length": str(ep.size),
                                      "type": "audio/mpeg"})
    _text(item, it("duration"), duration(ep.seconds))
    _text(item, it("episodeType"), "full")
    _text(item, it("explicit"), "false")
    if ep.chapters and ep.chapters_file is not None:
        ET.SubElement(item, f"{{{PODCAST}}}chapters", {"url": link(ep.chapters_file),
                                                        "type": "application/json+chapters"})
    if ep.transcript is not None:
        ET.SubElement(item, f"{{{PODCAST}}}transcript", {"url": link(ep.transcript), "type": "text/vtt"})


def _description(ep: Episode) -> str:
    parts = [ep.comment] if ep.comment else []
    if ep.chapters:
        parts.append("Chapters: " + "; ".join(f"{duration(s)} {t}" for s, _e, t in ep.chapters))
    return "\n".join(parts) or ep.title


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    e = ET.SubElement(parent, tag)
    e.text = xml_safe(text)
    return e


def _chapters_rel(ep: Episode) -> str:
    return f"{CHAPTERS}/{ep.file.stem}.json"


def _write_chapters(folder: Path, episodes: list[Episode]) -> None:
    names = {ep.file.name for ep in episodes}
    for ep in episodes:
        if ep.chapters:
            data = json_chapters(list(ep.chapters), ep.file.name, ep.title).encode()
            _write_if_changed(folder / _chapters_rel(ep), data)
    # chapters of an MP3 that is gone (removed by --keep): only our own JSON files
    d = folder / CHAPTERS
    for f in d.glob("*.json") if d.is_dir() else ():
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (isinstance(data, dict) and data.get("author") == ARTIST and data.get("fileName") not in names
                and not (folder / str(data.get("fileName"))).exists()):
            f.unlink(missing_ok=True)


def _write_if_changed(target: Path, data: bytes) -> None:
    """Rewrite only on change, so a synced folder does not churn."""
    try:
        if target.read_bytes() == data:
            return
    except OSError:
        pass
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)

