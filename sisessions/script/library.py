"""A library: the patterns, sessions and programmes of several folders, found by id."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from sisessions.errors import Problem, ScriptError, UsageError
from sisessions.script.load import (
    load_pattern,
    load_session,
    looks_like_session,
    session_for_pattern,
)
from sisessions.script.model import Pattern, Session
from sisessions.script.reader import suggest


class Library:
    """The patterns, sessions and programmes of several library folders; earlier folders win."""

    def __init__(self, dirs: Iterable[Path]):
        self.dirs = [Path(d) for d in dirs]
        self.patterns: dict[str, Path] = {}
        self.sessions: dict[str, Path] = {}
        self.programs: dict[str, Path] = {}
        for d in self.dirs:
            self._index(d)
        self._loaded: dict[Path, Pattern | Session] = {}

    def _index(self, d: Path, front: bool = False) -> None:
        for kind, table in (("patterns", self.patterns), ("sessions", self.sessions), ("programs", self.programs)):
            folder = d / kind
            if not folder.is_dir():
                continue
            for f in sorted(folder.glob("*.yaml")):
                if front or f.stem not in table:
                    table[f.stem] = f

    def check_dirs(self) -> None:
        for d in self.dirs[:-1]:  # the last one is the built-in library
            if not d.is_dir():
                raise UsageError(f"{d}: no such scripts folder")
            if not (d / "patterns").is_dir() and not (d / "sessions").is_dir():
                raise UsageError(f"{d}: not a scripts library (it has no patterns/ or sessions/ folder)")

    def pattern(self, pid: str, problems: list[Problem] | None = None) -> Pattern | None:
        path = self.patterns.get(pid)
        if path is None:
            raise UsageError(f"unknown pattern '{pid}'; `sisessions list` shows the patterns")
        return self._load(path, load_pattern, problems)

    def _load(self, path: Path, loader, problems):
        if path in self._loaded:
            return self._loaded[path]
        obj = loader(path, problems)
        if obj is not None:
            self._loaded[path] = obj
        return obj

    def session(self, name: str) -> Session:
        """A session by id or path; a lone pattern becomes a one-item session. Fully checked."""
        path = Path(name)
        if name.endswith((".yaml", ".yml")) or path.is_file():
            if not path.is_file():
                raise UsageError(f"{name}: no such file")
            lib = path.resolve().parent.parent
            if (lib / "patterns").is_dir():
                self._index(lib, front=True)  # a session file brings its own library's patterns
            if looks_like_session(path):
                session = self._load(path, load_session, None)
            else:
                p = self._load(path, load_pattern, None)
                self.patterns[p.id] = path
                session = session_for_pattern(p)
        elif name in self.sessions:
            session = self._load(self.sessions[name], load_session, None)
        elif name in self.patterns:
            session = session_for_pattern(self.pattern(name))
        else:
            hint = suggest(name, tuple(self.sessions) + tuple(self.patterns))
            raise UsageError(f"unknown session '{name}'{hint}; `sisessions list` shows what there is")
        problems: list[Problem] = []
        self.check_session(session, problems)
        if problems:
            raise ScriptError(problems)
        return session

    def check_session(self, s: Session, problems: list[Problem]) -> None:
        """Late checks that need the library: every item's pattern exists and is valid."""
        for it in s.items:
            if it.pattern not in self.patterns:
                hint = suggest(it.pattern, tuple(self.patterns))
                problems.append(it.loc.problem(f"unknown pattern '{it.pattern}'{hint}"))
                continue
            self._load(self.patterns[it.pattern], load_pattern, problems)

    def files(self, paths: Iterable[str] = ()) -> list[tuple[Path, str]]:
        """(file, kind) of every script under the given files or folders (default: every library)."""
        files: list[tuple[Path, str]] = []
        targets = [Path(p) for p in paths] or self.dirs
        for t in targets:
            if t.is_dir():
                for kind in ("patterns", "sessions", "programs"):
                    for f in sorted((t / kind).glob("*.yaml")) if (t / kind).is_dir() else []:
                        files.append((f, kind))
                if t.name in ("patterns", "sessions", "programs"):
                    files += [(f, t.name) for f in sorted(t.glob("*.yaml"))]
            elif t.is_file():
                kind = "sessions" if looks_like_session(t) else "patterns"
                if t.parent.name == "programs":
                    kind = "programs"
                files.append((t, kind))
            else:
                raise UsageError(f"{t}: no such file or folder")
        return files

    def adopt(self, session_file: Path) -> None:
        """A session file outside the libraries brings its own library's patterns."""
        lib = Path(session_file).resolve().parent.parent
        if (lib / "patterns").is_dir() and lib not in [d.resolve() for d in self.dirs]:
            self._index(lib, front=True)
