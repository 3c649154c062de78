"""Retention in a synced folder (`export --to DIR --keep N`): a manifest of what the program
wrote there, and the removal of a session's older exports beyond the newest N, only ever of
files it wrote and still as it wrote them."""
from __future__ import annotations

import contextlib
import datetime
import json
from pathlib import Path

from sisessions.errors import UsageError
from sisessions.fileio import atomic_write_text

MANIFEST = ".sisessions-exports.json"  # what --to wrote, so --keep only ever removes those


def check(keep: int | None, to: str | None) -> None:
    """`--keep` only with `--to` (export and schedule add alike)."""
    if keep is not None and not to:
        raise UsageError("--keep needs --to DIR: it only tidies a folder that --to writes into")



def _load_manifest(folder: Path) -> list[dict]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        entries = data["exports"]
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("files"), dict)]
    except (OSError, ValueError, KeyError, TypeError):
        # unreadable: start afresh. Files listed only there are then never removed, which is
        # the safe way to be wrong.
        return []


def record(folder: Path, session: str, date: datetime.date, files, keep: int | None) -> list[Path]:
    """Note the files just written; with `keep`, remove this session's older exports beyond N.

    Only files listed in the manifest are ever removed, and only while they still have the
    size they were written with (a file you replaced under the same name is yours).
    """
    folder = Path(folder)
    rels = {p.relative_to(folder).as_posix(): p.stat().st_size for p in files}
    old = _load_manifest(folder)
    # the order of writing: a counter, since two exports can share a date and even a second
    seq = 1 + max((e["seq"] for e in old if isinstance(e.get("seq"), int)), default=0)
    entries = [e for e in old if not set(e["files"]) & set(rels)]
    this = {"session": session, "date": date.isoformat(), "seq": seq,
            "written": datetime.datetime.now().isoformat(timespec="seconds"), "files": rels}
    entries.append(this)
    removed: list[Path] = []
    if keep is not None:
        def newest_first(e: dict) -> tuple:
            n = e.get("seq") if isinstance(e.get("seq"), int) else 0  # before numbering: oldest
            return (str(e.get("date")), n)

        mine = sorted((e for e in entries if e.get("session") == session), key=newest_first, reverse=True)
        for e in mine[keep:]:
            if e is this:  # what this run just wrote is never removed by it
                continue
            removed += _remove(folder, e)
            entries.remove(e)
    atomic_write_text(folder / MANIFEST, json.dumps({"version": 1, "exports": entries}, indent=1) + "\n")
    return removed


def _remove(folder: Path, entry: dict) -> list[Path]:
    root = folder.resolve()
    removed, dirs = [], set()
    for rel, size in entry["files"].items():
        p = (folder / rel)
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not p.resolve().is_relative_to(root):
            continue  # a hand-edited manifest can never make us delete outside the folder
        try:
            if p.is_file() and not p.is_symlink() and p.stat().st_size == size:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
        if p.parent != folder:
            dirs.add(p.parent)
    for d in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()  # only when empty: anything you put there stays
    return removed
