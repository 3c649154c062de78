"""YAML script files -> validated, immutable model, keeping the file and line of every node."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Union

import yaml

from sisessions.errors import Problem, ScriptError, UsageError

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
STAGES = ("unlock", "reshape", "reinforce")
ITEM_SIDES = ("working", "other", "both", "left", "right")
SIDES = ("left", "right")
DEFAULT_REST = 10.0
DEFAULT_BREATH_IN = 4.0
DEFAULT_BREATH_OUT = 6.0
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Loc:
    path: str
    line: int

    def problem(self, message: str) -> Problem:
        return Problem(self.path, self.line, message)


@dataclass(frozen=True)
class Say:
    text: str
    loc: Loc


@dataclass(frozen=True)
class Pause:
    seconds: float
    loc: Loc


@dataclass(frozen=True)
class Breathe:
    count: int
    cue: bool
    loc: Loc


@dataclass(frozen=True)
class Repeat:
    times: int | None
    count: bool
    steps: tuple["Step", ...]
    loc: Loc


@dataclass(frozen=True)
class Chime:
    loc: Loc


Step = Union[Say, Pause, Breathe, Repeat, Chime]


@dataclass(frozen=True)
class Pattern:
    id: str
    path: str
    title: str
    steps: tuple[Step, ...]
    stage: str | None = None
    about: str | None = None
    sided: bool = False
    repetitions: int | None = None
    loc: Loc = field(default=Loc("", 1), compare=False)


@dataclass(frozen=True)
class Item:
    pattern: str
    loc: Loc
    repetitions: int | None = None
    side: str = "working"


@dataclass(frozen=True)
class Session:
    id: str
    path: str
    title: str
    items: tuple[Item, ...]
    about: str | None = None
    intro: str | None = None
    outro: str | None = None
    rest_between: float = DEFAULT_REST
    chime: bool = True
    breath_in: float = DEFAULT_BREATH_IN
    breath_out: float = DEFAULT_BREATH_OUT
    loc: Loc = field(default=Loc("", 1), compare=False)
    items_loc: Loc | None = field(default=None, compare=False)


# ---------------------------------------------------------------- reading YAML with marks

_MISSING = object()
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}


class _Reader:
    """Walks composed YAML nodes, converting values and collecting problems with lines."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = str(path)
        self.problems = problems
        self._loader: yaml.SafeLoader | None = None

    def compose(self) -> yaml.Node | None:
        try:
            text = Path(self.path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            self.problems.append(Problem(self.path, 1, "is not UTF-8 text"))
            return None
        except OSError as e:
            self.problems.append(Problem(self.path, 1, f"cannot be read ({e.strerror or e})"))
            return None
        try:
            self._loader = yaml.SafeLoader(text)
            node = self._loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            what = e.problem or e.context or "invalid YAML"
            self.problems.append(Problem(self.path, line, f"invalid YAML: {what}"))
            return None
        except yaml.YAMLError as e:
            self.problems.append(Problem(self.path, 1, f"invalid YAML: {e}"))
            return None
        return node

    def loc(self, node: yaml.Node) -> Loc:
        return Loc(self.path, node.start_mark.line + 1)

    def error(self, node: yaml.Node | Loc, message: str) -> None:
        loc = node if isinstance(node, Loc) else self.loc(node)
        self.problems.append(loc.problem(message))

    def value(self, node: yaml.Node) -> Any:
        """A scalar's Python value (str, int, float, bool, None), or _MISSING after an error."""
        if node.tag not in _PLAIN_TAGS:
            self.error(node, f"cannot read this value (unsupported tag {node.tag})")
            return _MISSING
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"expected a single value here, got {node_text(node)}")
            return _MISSING
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            self.error(node, f"cannot read this value ({getattr(e, 'problem', e)})")
            return _MISSING

    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str],
                required: Iterable[str] = ()) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """Keys -> (key node, value node); unknown, duplicate and missing keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping with keys: {', '.join(allowed)}")
            return None
        allowed = tuple(allowed)
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            key = self.value(knode)
            if not isinstance(key, str):
                self.error(knode, f"{what}: keys must be words, got {knode.value!r}")
                continue
            if key in out:
                self.error(knode, f"duplicate key '{key}' (first at line {out[key][0].start_mark.line + 1})")
                continue
            if key not in allowed:
                hint = _suggest(key, allowed)
                self.error(knode, f"unknown key '{key}' in {what}; expected one of: "
                                  f"{', '.join(allowed)}{hint}")
                continue
            out[key] = (knode, vnode)
        for key in required:
            if key not in out:
                self.error(node, f"{what} needs '{key}'")
        return out

    def text(self, node: yaml.Node, what: str) -> str | None:
        v = self.value(node)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(node.value)  # "say: 5" means the words "5"
        if not isinstance(v, str) or not v.strip():
            if v is not _MISSING:
                self.error(node, f"{what} must be non-empty text")
            return None
        return " ".join(v.split())

    def number(self, node: yaml.Node, what: str, lo: float, hi: float, lo_open: bool = False) -> float | None:
        v = self.value(node)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
        if ok:
            ok = (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            if v is not _MISSING:
                rng = f"more than {lo:g}" if lo_open else f"at least {lo:g}"
                self.error(node, f"{what} must be a number of seconds, {rng} and at most {hi:g}; got {node_text(node)}")
            return None
        return float(v)

    def integer(self, node: yaml.Node, what: str, lo: int, hi: int) -> int | None:
        v = self.value(node)
        if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
            if v is not _MISSING:
                self.error(node, f"{what} must be a whole number from {lo} to {hi}; got {node_text(node)}")
            return None
        return v

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        v = self.value(node)
        if not isinstance(v, bool):
            if v is not _MISSING:
                self.error(node, f"{what} must be true or false; got {node_text(node)}")
            return None
        return v

    def choice(self, node: yaml.Node, what: str, choices: Iterable[str]) -> str | None:
        v = self.value(node)
        choices = tuple(choices)
        if v not in choices:
            if v is not _MISSING:
                self.error(node, f"{what} must be one of {' | '.join(choices)}; got {node_text(node)}")
            return None
        return v


def node_text(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value) if node.value else "nothing"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _suggest(key: str, allowed: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(key, allowed, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_id(path: Path, problems: list[Problem]) -> str:
    ident = path.stem if path.suffix == ".yaml" else path.name
    if not ID_RE.match(ident):
        problems.append(Problem(path, 1, f"file name '{ident}' is not a valid id: use lowercase "
                                            "letters, digits and dashes, starting with a letter or digit"))
    return ident


# ---------------------------------------------------------------- placeholders


def check_placeholders(r: _Reader, node: yaml.Node, text: str, *, sided: bool, in_repeat: bool,
                       allow_any: bool = True) -> None:
    """SPEC §2.4: {side}/{other_side} only in sided patterns, {rep}/{reps} only inside a repeat."""
    for m in PLACEHOLDER_RE.finditer(text):
        name = m.group(1)
        if not allow_any:
            r.error(node, f"'{{{name}}}' cannot be used here: intro and outro take no placeholders")
        elif name in ("side", "other_side"):
            if not sided:
                r.error(node, f"'{{{name}}}' needs 'sided: true' in the pattern")
        elif name in ("rep", "reps"):
            if not in_repeat:
                r.error(node, f"'{{{name}}}' can only be used inside a repeat")
        else:
            r.error(node, f"unknown placeholder '{{{name}}}'; use {{side}}, {{other_side}}, {{rep}} or {{reps}}")
    rest = PLACEHOLDER_RE.sub("", text)
    if "{" in rest or "}" in rest:
        r.error(node, "unmatched brace in text; braces are only for {side}, {other_side}, {rep} and {reps}")


# ---------------------------------------------------------------- patterns

STEP_KEYS = ("say", "pause", "breathe", "repeat", "chime")


def _steps(r: _Reader, node: yaml.Node, *, sided: bool, depth: int) -> tuple[Step, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        r.error(node, "steps must be a non-empty list of steps (say, pause, breathe, repeat, chime)")
        return ()
    out: list[Step] = []
    for snode in node.value:
        step = _step(r, snode, sided=sided, depth=depth)
        if step is not None:
            out.append(step)
    return tuple(out)


def _step(r: _Reader, node: yaml.Node, *, sided: bool, depth: int) -> Step | None:
    loc = r.loc(node)
    if isinstance(node, yaml.ScalarNode):
        text = r.text(node, "a step")
        if text is None:
            return None
        check_placeholders(r, node, text, sided=sided, in_repeat=depth > 0)
        return Say(text, loc)
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        n = len(node.value) if isinstance(node, yaml.MappingNode) else 0
        extra = f" (this one has {n} keys)" if n > 1 else ""
        r.error(node, f"a step must have exactly one of: {', '.join(STEP_KEYS)}{extra}")
        return None
    m = r.mapping(node, "a step", STEP_KEYS)
    if not m:
        return None
    (key, (_, v)), = m.items()
    if key == "say":
        text = r.text(v, "say")
        if text is None:
            return None
        check_placeholders(r, v, text, sided=sided, in_repeat=depth > 0)
        return Say(text, loc)
    if key == "pause":
        s = r.number(v, "pause", 0, 600, lo_open=True)
        return None if s is None else Pause(s, loc)
    if key == "breathe":
        if isinstance(v, yaml.MappingNode):
            bm = r.mapping(v, "breathe", ("count", "cue"), ("count",))
            if bm is None:
                return None
            count = r.integer(bm["count"][1], "breathe count", 1, 20) if "count" in bm else None
            cue = r.boolean(bm["cue"][1], "breathe cue") if "cue" in bm else True
            if count is None or cue is None:
                return None
            return Breathe(count, cue, loc)
        count = r.integer(v, "breathe", 1, 20)
        return None if count is None else Breathe(count, True, loc)
    if key == "chime":
        if r.value(v) is not True:
            r.error(v, f"chime must be true; got {node_text(v)}")
            return None
        return Chime(loc)
    # repeat
    rm = r.mapping(v, "repeat", ("times", "count", "steps"), ("steps",))
    if rm is None:
        return None
    times = None
    if "times" in rm:
        times = r.integer(rm["times"][1], "repeat times", 1, 100)
        if times is None:
            return None
    count = r.boolean(rm["count"][1], "repeat count") if "count" in rm else False
    steps = _steps(r, rm["steps"][1], sided=sided, depth=depth + 1) if "steps" in rm else ()
    if count is None or not steps:
        return None
    return Repeat(times, count, steps, loc)


PATTERN_KEYS = ("title", "stage", "about", "sided", "repetitions", "steps")


def load_pattern(path: Path, problems: list[Problem] | None = None) -> Pattern | None:
    """Read one pattern file; problems are appended (or raised as ScriptError when none given)."""
    own = problems is None
    problems = [] if own else problems
    before = len(problems)
    path = Path(path)
    r = _Reader(path, problems)
    ident = check_id(path, problems)
    node = r.compose()
    pattern = None
    if node is None and len(problems) == before:
        problems.append(Problem(path, 1, "the file is empty; a pattern needs title and steps"))
    elif node is not None:
        m = r.mapping(node, "a pattern", PATTERN_KEYS, ("title", "steps"))
        if m is not None:
            get = lambda k: m[k][1] if k in m else None  # noqa: E731
            title = r.text(get("title"), "title") if "title" in m else None
            stage = r.choice(get("stage"), "stage", STAGES) if "stage" in m else None
            about = r.text(get("about"), "about") if "about" in m else None
            sided = r.boolean(get("sided"), "sided") if "sided" in m else False
            reps = r.integer(get("repetitions"), "repetitions", 1, 100) if "repetitions" in m else None
            steps = _steps(r, get("steps"), sided=bool(sided), depth=0) if "steps" in m else ()
            if len(problems) == before:
                pattern = Pattern(id=ident, path=str(path), title=title, steps=steps, stage=stage,
                                  about=about, sided=bool(sided), repetitions=reps, loc=r.loc(node))
    if own and len(problems) > before:
        raise ScriptError(problems)
    return pattern if len(problems) == before else None


# ---------------------------------------------------------------- sessions

SESSION_KEYS = ("title", "about", "intro", "outro", "rest_between", "chime", "breath", "items")
ITEM_KEYS = ("pattern", "repetitions", "side")


def _item(r: _Reader, node: yaml.Node) -> Item | None:
    loc = r.loc(node)
    if isinstance(node, yaml.ScalarNode):
        pid = r.value(node)
        if not isinstance(pid, str) or not ID_RE.match(pid):
            r.error(node, f"an item must be a pattern id (lowercase letters, digits, dashes) or a "
                          f"mapping with 'pattern'; got {node_text(node)}")
            return None
        return Item(pid, loc)
    m = r.mapping(node, "an item", ITEM_KEYS, ("pattern",))
    if m is None or "pattern" not in m:
        return None
    pnode = m["pattern"][1]
    pid = r.value(pnode)
    if not isinstance(pid, str) or not ID_RE.match(pid):
        r.error(pnode, f"pattern must be a pattern id; got {node_text(pnode)}")
        pid = None
    reps = r.integer(m["repetitions"][1], "repetitions", 1, 100) if "repetitions" in m else None
    side = r.choice(m["side"][1], "side", ITEM_SIDES) if "side" in m else "working"
    if pid is None or side is None or ("repetitions" in m and reps is None):
        return None
    return Item(pid, loc, reps, side)


def load_session(path: Path, problems: list[Problem] | None = None, partial: bool = False) -> Session | None:
    """Read one session file. With `partial`, a session is returned even when the file has
    problems (holding what could be read), so that `validate` can still check its items."""
    own = problems is None
    problems = [] if own else problems
    before = len(problems)
    path = Path(path)
    r = _Reader(path, problems)
    ident = check_id(path, problems)
    node = r.compose()
    session = None
    if node is None and len(problems) == before:
        problems.append(Problem(path, 1, "the file is empty; a session needs title and items"))
    elif node is not None:
        m = r.mapping(node, "a session", SESSION_KEYS, ("title", "items"))
        if m is not None:
            kw: dict[str, Any] = {}
            for key in ("title", "about", "intro", "outro"):
                if key in m:
                    kw[key] = r.text(m[key][1], key)
                    if key in ("intro", "outro") and kw[key]:
                        check_placeholders(r, m[key][1], kw[key], sided=False, in_repeat=False, allow_any=False)
            if "rest_between" in m:
                kw["rest_between"] = r.number(m["rest_between"][1], "rest_between", 0, 600)
            if "chime" in m:
                kw["chime"] = r.boolean(m["chime"][1], "chime")
            if "breath" in m:
                bm = r.mapping(m["breath"][1], "breath", ("in", "out"))
                if bm is not None:
                    if "in" in bm:
                        kw["breath_in"] = r.number(bm["in"][1], "breath in", 0, 60, lo_open=True)
                    if "out" in bm:
                        kw["breath_out"] = r.number(bm["out"][1], "breath out", 0, 60, lo_open=True)
            items: list[Item] = []
            items_loc = None
            if "items" in m:
                inode = m["items"][1]
                items_loc = r.loc(m["items"][0])
                if not isinstance(inode, yaml.SequenceNode) or not inode.value:
                    r.error(inode, "items must be a non-empty list of pattern ids")
                else:
                    for n in inode.value:
                        it = _item(r, n)
                        if it is not None:
                            items.append(it)
            if len(problems) == before or partial:
                read = {k: v for k, v in kw.items() if v is not None}
                read.setdefault("title", "")
                session = Session(id=ident, path=str(path), items=tuple(items), loc=r.loc(node),
                                  items_loc=items_loc, **read)
    if own and len(problems) > before:
        raise ScriptError(problems)
    return session if len(problems) == before or partial else None


def session_for_pattern(p: Pattern) -> Session:
    """A lone pattern played as a one-item session (SPEC §3)."""
    return Session(id=p.id, path=p.path, title=p.title, items=(Item(p.id, p.loc),), loc=p.loc,
                   items_loc=p.loc)


# ---------------------------------------------------------------- libraries


def looks_like_session(path: Path) -> bool:
    """A file outside a library folder: decide pattern or session by its top-level keys."""
    if path.parent.name in ("sessions", "patterns"):
        return path.parent.name == "sessions"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "items" in data and "steps" not in data


class _OnePattern:
    """A library of one pattern: a lone file is checked on its own, whatever shares its id."""

    def __init__(self, p: Pattern):
        self.p = p

    def pattern(self, pid: str, problems=None) -> Pattern:
        return self.p


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
            hint = _suggest(name, tuple(self.sessions) + tuple(self.patterns))
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
                hint = _suggest(it.pattern, tuple(self.patterns))
                problems.append(it.loc.problem(f"unknown pattern '{it.pattern}'{hint}"))
                continue
            self._load(self.patterns[it.pattern], load_pattern, problems)

    def _check_length(self, s: Session, problems: list[Problem], library=None, lenient=False) -> None:
        """The 3-hour limit and repeat counts (SPEC §2), planned with estimated speech: no audio."""
        from sisessions.timeline import PlanOptions, expand

        try:
            expand(s, library or self, PlanOptions(side="left"), lenient=lenient)
        except ScriptError as e:
            problems.extend(e.problems)

    def validate(self, paths: Iterable[str] = ()) -> tuple[int, list[Problem]]:
        """Check files or library folders (default: every library). Returns (files, problems)."""
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
        problems: list[Problem] = []
        for f, kind in files:
            if kind == "patterns":
                p = load_pattern(f, problems)
                if p is not None:
                    self._check_length(session_for_pattern(p), problems, _OnePattern(p), lenient=True)
            elif kind == "sessions":
                lib = f.resolve().parent.parent
                if (lib / "patterns").is_dir() and lib not in [d.resolve() for d in self.dirs]:
                    self._index(lib, front=True)
                before = len(problems)
                s = load_session(f, problems, partial=True)
                if s is not None:
                    self.check_session(s, problems)
                    if len(problems) == before:
                        self._check_length(s, problems)
            else:
                from sisessions import programs

                programs.load_program(f, problems, self)
        # one problem reported once, even when a pattern was reached through several sessions
        seen, unique = set(), []
        for p in problems:
            key = (os.path.realpath(p.path), p.line, p.message)
            if key not in seen:
                seen.add(key)
                unique.append(p)
        return len(files), unique
