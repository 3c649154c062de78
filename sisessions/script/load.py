"""Loaders: one YAML file to a checked pattern, session or programme."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import yaml

from sisessions.errors import Problem, ScriptError
from sisessions.script.model import (
    BUILTIN_BEDS,
    ID_RE,
    ITEM_SIDES,
    NO_BED,
    PHASES,
    PAIN_LIMITS,
    PRIORITY_RANGE,
    STAGES,
    Breathe,
    Chime,
    Item,
    Loc,
    Pattern,
    PainRules,
    Pause,
    Program,
    Repeat,
    Say,
    Session,
    Stage,
    Step,
)
from sisessions.script.reader import (
    MAX_REPEAT_NESTING,
    Reader,
    check_id,
    check_placeholders,
    node_text,
)

# ---------------------------------------------------------------- patterns

STEP_KEYS = ("say", "pause", "breathe", "repeat", "chime")
PHASED = ("say", "pause")  # the steps that may name their phase (SPEC §2.2)


def _steps(r: Reader, node: yaml.Node, *, sided: bool, depth: int) -> tuple[Step, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        r.error(node, "steps must be a non-empty list of steps (say, pause, breathe, repeat, chime)")
        return ()
    out: list[Step] = []
    for snode in node.value:
        step = _step(r, snode, sided=sided, depth=depth)
        if step is None:
            continue
        # a pause with no phase continues the phase of the say or pause just before it
        if isinstance(step, Pause) and step.phase is None and out and isinstance(out[-1], (Say, Pause)):
            step = Pause(step.seconds, step.loc, out[-1].phase)
        out.append(step)
    return tuple(out)


def _step(r: Reader, node: yaml.Node, *, sided: bool, depth: int) -> Step | None:
    loc = r.loc(node)
    if isinstance(node, yaml.ScalarNode):
        text = r.text(node, "a step", spoken=True)
        if text is None:
            return None
        check_placeholders(r, node, text, sided=sided, in_repeat=depth > 0)
        return Say(text, loc)
    keys = [k.value for k, _ in node.value] if isinstance(node, yaml.MappingNode) else []
    kinds = [k for k in keys if k != "phase"]
    if not isinstance(node, yaml.MappingNode) or len(kinds) != 1:
        n = len(kinds)
        extra = f" (this one has {n} keys)" if n > 1 else ""
        r.error(node, f"a step must have exactly one of: {', '.join(STEP_KEYS)}{extra}")
        return None
    m = r.mapping(node, "a step", STEP_KEYS + ("phase",))
    if not m or "phase" in m and len(m) == 1:
        return None
    phase = None
    if "phase" in m:
        pnode = m.pop("phase")[1]
        if next(iter(m)) not in PHASED:
            r.error(pnode, f"phase belongs on a say or pause step, not on {next(iter(m))}")
            return None
        phase = r.choice(pnode, "phase", PHASES)
        if phase is None:
            return None
    (key, (_, v)), = m.items()
    if key == "say":
        text = r.text(v, "say", spoken=True)
        if text is None:
            return None
        check_placeholders(r, v, text, sided=sided, in_repeat=depth > 0)
        return Say(text, loc, phase)
    if key == "pause":
        s = r.number(v, "pause", 0, 600, lo_open=True)
        return None if s is None else Pause(s, loc, phase)
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
    if depth >= MAX_REPEAT_NESTING:  # bounded so that planning and checks stay shallow
        r.error(node, f"repeats may nest at most {MAX_REPEAT_NESTING} deep; this one is inside {depth}")
        return None
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


def _load(path: Path, problems: list[Problem] | None, kind: str, keys: tuple[str, ...],
          required: tuple[str, ...], build: Callable, partial: bool = False):
    """The skeleton every loader shares: read the file with marks, check its id, refuse an empty
    file, check its top-level keys, then `build(reader, mapping, node, id, path, before)`.
    Problems are appended (or raised as ScriptError when none were given); with `partial`, what
    could be built is returned even when the file has problems."""
    own = problems is None
    problems = [] if own else problems
    before = len(problems)
    path = Path(path)
    r = Reader(path, problems)
    ident = check_id(path, problems)
    node = r.compose()
    obj = None
    if node is None and len(problems) == before:
        problems.append(Problem(path, 1, f"the file is empty; {kind} needs {' and '.join(required)}"))
    elif node is not None:
        m = r.mapping(node, kind, keys, required)
        if m is not None:
            obj = build(r, m, node, ident, path, before)
    if own and len(problems) > before:
        raise ScriptError(problems)
    return obj if len(problems) == before or partial else None


def load_pattern(path: Path, problems: list[Problem] | None = None) -> Pattern | None:
    """Read one pattern file; problems are appended (or raised as ScriptError when none given)."""
    return _load(path, problems, "a pattern", PATTERN_KEYS, ("title", "steps"), _pattern)


def _pattern(r: Reader, m: dict, node: yaml.Node, ident: str, path: Path, before: int) -> Pattern | None:
    get = lambda k: m[k][1] if k in m else None  # noqa: E731
    title = r.text(get("title"), "title") if "title" in m else None
    stage = r.choice(get("stage"), "stage", STAGES) if "stage" in m else None
    about = r.text(get("about"), "about") if "about" in m else None
    sided = r.boolean(get("sided"), "sided") if "sided" in m else False
    reps = r.integer(get("repetitions"), "repetitions", 1, 100) if "repetitions" in m else None
    steps = _steps(r, get("steps"), sided=bool(sided), depth=0) if "steps" in m else ()
    if len(r.problems) == before:
        return Pattern(id=ident, path=str(path), title=title, steps=steps, stage=stage,
                          about=about, sided=bool(sided), repetitions=reps, loc=r.loc(node))
    return None


# ---------------------------------------------------------------- sessions

SESSION_KEYS = ("title", "about", "intro", "outro", "rest_between", "chime", "breath", "bed", "items")
ITEM_KEYS = ("pattern", "repetitions", "side", "optional", "priority", "keep")


def _item(r: Reader, node: yaml.Node) -> Item | None:
    loc = r.loc(node)
    if isinstance(node, yaml.ScalarNode):
        pid = r.typed(node)  # `- 2024` or `- off` names the file 2024.yaml / off.yaml
        if pid is None or not ID_RE.match(pid):
            r.error(node, f"an item must be a pattern id (lowercase letters, digits, dashes) or a "
                          f"mapping with 'pattern'; got {node_text(node)}")
            return None
        return Item(pid, loc)
    m = r.mapping(node, "an item", ITEM_KEYS, ("pattern",))
    if m is None or "pattern" not in m:
        return None
    pnode = m["pattern"][1]
    pid = r.typed(pnode)
    if pid is None or not ID_RE.match(pid):
        r.error(pnode, f"pattern must be a pattern id; got {node_text(pnode)}")
        pid = None
    reps = r.integer(m["repetitions"][1], "repetitions", 1, 100) if "repetitions" in m else None
    side = r.choice(m["side"][1], "side", ITEM_SIDES) if "side" in m else "working"
    marks = {}  # --minutes below scaling: which items may be left out first (plan/fit.py)
    if "optional" in m:
        marks["optional"] = r.boolean(m["optional"][1], "optional")
    if "priority" in m:
        marks["priority"] = r.integer(m["priority"][1], "priority", *PRIORITY_RANGE)
    if "keep" in m:
        marks["keep"] = r.boolean(m["keep"][1], "keep")
    if marks.get("keep") and marks.get("optional"):
        r.error(m["keep"][0], "an item cannot be both 'keep: true' and 'optional: true'")
        return None
    if pid is None or side is None or ("repetitions" in m and reps is None) or None in marks.values():
        return None
    return Item(pid, loc, reps, side, **marks)


def _bed(r: Reader, node: yaml.Node, path: Path) -> str | None:
    """A built-in bed's name, or an audio file (relative to the session's folder) that exists."""
    name = r.text(node, "bed")
    if name is None or name in BUILTIN_BEDS or name == NO_BED:
        return name
    f = (path.parent / Path(name).expanduser()).resolve()
    if not f.is_file():
        r.error(node, f"bed must be {', '.join(BUILTIN_BEDS)}, {NO_BED} or an audio file; "
                      f"{f} is not a file")
        return None
    return str(f)


def load_session(path: Path, problems: list[Problem] | None = None, partial: bool = False) -> Session | None:
    """Read one session file. With `partial`, a session is returned even when the file has
    problems (holding what could be read), so that `validate` can still check its items."""
    return _load(path, problems, "a session", SESSION_KEYS, ("title", "items"), _session, partial)


def _session(r: Reader, m: dict, node: yaml.Node, ident: str, path: Path, before: int) -> Session:
    kw: dict[str, Any] = {}
    for key in ("title", "about", "intro", "outro"):
        if key in m:
            kw[key] = r.text(m[key][1], key, spoken=key in ("intro", "outro"))
            if key in ("intro", "outro") and kw[key]:
                check_placeholders(r, m[key][1], kw[key], sided=False, in_repeat=False, allow_any=False)
    if "rest_between" in m:
        kw["rest_between"] = r.number(m["rest_between"][1], "rest_between", 0, 600)
    if "chime" in m:
        kw["chime"] = r.boolean(m["chime"][1], "chime")
    if "bed" in m:
        kw["bed"] = _bed(r, m["bed"][1], path)
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
    read = {k: v for k, v in kw.items() if v is not None}
    read.setdefault("title", "")
    return Session(id=ident, path=str(path), items=tuple(items), loc=r.loc(node), items_loc=items_loc,
                   **read)


def session_for_pattern(p: Pattern) -> Session:
    """A lone pattern played as a one-item session (SPEC §3)."""
    return Session(id=p.id, path=p.path, title=p.title, items=(Item(p.id, p.loc),), loc=p.loc,
                   items_loc=p.loc)


# ---------------------------------------------------------------- libraries


def looks_like_session(path: Path) -> bool:
    """A file outside a library folder: decide pattern or session by its top-level keys."""
    if path.parent.name in ("sessions", "patterns"):
        return path.parent.name == "sessions"
    node = Reader(path, []).compose()  # bounded: a hostile file cannot hang or recurse here
    if not isinstance(node, yaml.MappingNode):
        return False
    keys = {k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return "items" in keys and "steps" not in keys




# ---------------------------------------------------------------- programmes


def load_program(path: Path, problems: list[Problem] | None = None, library=None) -> Program | None:
    """Read a programme; with a library, also check that every session it names exists."""
    build = functools.partial(_program, library=library)
    return _load(path, problems, "a programme", PROGRAM_KEYS, ("title", "stages"), build)


PROGRAM_KEYS = ("title", "about", "stages", "then", "gentle", "pain")


def _program(r: Reader, m: dict, node: yaml.Node, ident: str, path: Path, before: int,
             library=None) -> Program | None:
    title = r.text(m["title"][1], "title") if "title" in m else None
    about = r.text(m["about"][1], "about") if "about" in m else None
    refs: list[tuple[str, Loc]] = []
    named = {}
    for key in ("then", "gentle"):
        if key in m:
            sid = r.typed(m[key][1])
            if sid is None or not ID_RE.match(sid):
                r.error(m[key][1], f"{key} must be a session id")
            else:
                named[key] = sid
                refs.append((sid, r.loc(m[key][1])))
    pain = _pain_rules(r, m["pain"][1]) if "pain" in m else PainRules()
    stages = []
    snode = m["stages"][1] if "stages" in m else None
    if snode is not None:
        if not isinstance(snode, yaml.SequenceNode) or not snode.value:
            r.error(snode, "stages must be a non-empty list of {session, days}")
        else:
            for n in snode.value:
                sm = r.mapping(n, "a stage", ("session", "days"), ("session", "days"))
                if not sm or "session" not in sm or "days" not in sm:
                    continue
                sid = r.typed(sm["session"][1])
                days = r.integer(sm["days"][1], "days", 1, 365)
                if not isinstance(sid, str) or not ID_RE.match(sid):
                    r.error(sm["session"][1], "session must be a session id")
                    continue
                if days is not None:
                    stages.append(Stage(sid, days, r.loc(n)))
                    refs.append((sid, r.loc(sm["session"][1])))
    if library is not None:
        for sid, loc in refs:
            if sid not in library.sessions:
                r.problems.append(loc.problem(f"unknown session '{sid}'"))
    if len(r.problems) == before:
        return Program(ident, str(path), title, tuple(stages), about, named.get("then"),
                       named.get("gentle"), pain)
    return None


def _pain_rules(r: Reader, node: yaml.Node) -> PainRules:
    """The `pain:` block: thresholds of `today`'s light, each a whole number in its range."""
    pm = r.mapping(node, "pain", PAIN_LIMITS) or {}
    values = {}
    for key, (lo, hi) in PAIN_LIMITS.items():
        if key in pm:
            v = r.integer(pm[key][1], f"pain: {key}", lo, hi)
            if v is not None:
                values[key] = v
    rules = PainRules(**values)
    if rules.amber < rules.green:
        where = pm["amber"][1] if "amber" in pm else pm["green"][1]
        r.error(where, f"pain: amber ({rules.amber}) must be at least green ({rules.green})")
    return rules
