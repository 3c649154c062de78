"""Reading YAML with marks: composed nodes to values, every problem with its file and line."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from sisessions.errors import Problem
from sisessions.script.model import ID_RE, PLACEHOLDER_RE, Loc

_MISSING = object()
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}


class Reader:
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
                hint = suggest(key, allowed)
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


def suggest(key: str, allowed: tuple[str, ...]) -> str:
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


def check_placeholders(r: Reader, node: yaml.Node, text: str, *, sided: bool, in_repeat: bool,
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


