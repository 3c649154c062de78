"""Programme files (`programs/<id>.yaml`): the stages in order, with suggested days for each."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sisessions.errors import Problem, ScriptError
from sisessions.script import ID_RE, Loc, _Reader, check_id


@dataclass(frozen=True)
class Stage:
    session: str
    days: int
    loc: Loc


@dataclass(frozen=True)
class Program:
    id: str
    path: str
    title: str
    stages: tuple[Stage, ...]
    about: str | None = None
    then: str | None = None  # the session for every day after the last stage


def load_program(path: Path, problems: list[Problem] | None = None, library=None) -> Program | None:
    """Read a programme; with a library, also check that every session it names exists."""
    own = problems is None
    problems = [] if own else problems
    before = len(problems)
    path = Path(path)
    r = _Reader(path, problems)
    ident = check_id(path, problems)
    node = r.compose()
    prog = None
    if node is None and len(problems) == before:
        problems.append(Problem(path, 1, "the file is empty; a programme needs title and stages"))
    elif node is not None:
        m = r.mapping(node, "a programme", ("title", "about", "stages", "then"), ("title", "stages"))
        if m is not None:
            title = r.text(m["title"][1], "title") if "title" in m else None
            about = r.text(m["about"][1], "about") if "about" in m else None
            then = None
            refs: list[tuple[str, Loc]] = []
            if "then" in m:
                then = r.value(m["then"][1])
                if not isinstance(then, str) or not ID_RE.match(then):
                    r.error(m["then"][1], "then must be a session id")
                else:
                    refs.append((then, r.loc(m["then"][1])))
            stages = []
            snode = m["stages"][1] if "stages" in m else None
            if snode is not None:
                import yaml

                if not isinstance(snode, yaml.SequenceNode) or not snode.value:
                    r.error(snode, "stages must be a non-empty list of {session, days}")
                else:
                    for n in snode.value:
                        sm = r.mapping(n, "a stage", ("session", "days"), ("session", "days"))
                        if not sm or "session" not in sm or "days" not in sm:
                            continue
                        sid = r.value(sm["session"][1])
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
                        problems.append(loc.problem(f"unknown session '{sid}'"))
            if len(problems) == before:
                prog = Program(ident, str(path), title, tuple(stages), about, then)
    if own and len(problems) > before:
        raise ScriptError(problems)
    return prog if len(problems) == before else None
