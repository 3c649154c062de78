"""Reading YAML with marks: composed nodes to values, every problem with its file and line."""
from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable

import yaml

from sisessions.errors import Problem
from sisessions.script.model import ID_RE, PLACEHOLDER_RE, Loc

_MISSING = object()
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
# Where text is expected, a scalar resolved to one of these is still the text that was typed
# (SPEC §5: `say: Yes` is the word "Yes", `say: 2024-01-01` a date read out, not refused).
_TEXT_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
# Bounds on a file's shape, checked on the event stream before anything is built: aliases may
# otherwise expand a 3 KB file to billions of nodes, refer to themselves (a loop), or nest
# deeper than Python's recursion allows. A real script has a few hundred nodes, nested ~20 deep.
MAX_NESTING = 50
MAX_NODES = 20_000
MAX_REPEAT_NESTING = 10  # (load.py) 10 repeats inside each other reach ~35 levels
# Tab and line breaks are white space that text folds into a space; every other control
# character (C0, DEL, C1), a lone surrogate or a non-character (both only reachable through
# "\u" escapes) cannot be spoken, shown, or written into a feed's XML.
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class _ShapeError(Exception):
    def __init__(self, mark, message: str):
        super().__init__(message)
        self.line = mark.line + 1 if mark else 1
        self.message = message


def check_shape(text: str) -> None:
    """Refuse a recursive alias, nesting deeper than MAX_NESTING or more than MAX_NODES nodes
    once aliases are expanded, in one pass over the parser's events: an alias adds the size
    of the node it names (known when that node ended) without expanding anything."""
    stack: list[list] = []            # open collections: [anchor, nodes, height]
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height) of the node it names
    total = 0

    def place(nodes: int, height: int, mark) -> None:
        nonlocal total
        total += nodes
        if total > MAX_NODES:
            raise _ShapeError(mark, f"the file is too large once its aliases are expanded (more than "
                                    f"{MAX_NODES} values); write the steps out or use repeat")
        if len(stack) + height > MAX_NESTING:
            raise _ShapeError(mark, f"nested too deeply (more than {MAX_NESTING} levels of lists and "
                                    f"mappings); repeats may nest at most {MAX_REPEAT_NESTING} deep")

    def fold(nodes: int, height: int) -> None:
        if stack:
            stack[-1][1] += nodes
            stack[-1][2] = max(stack[-1][2], height + 1)

    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(ev, yaml.AliasEvent):
            if any(f[0] == ev.anchor for f in stack):
                raise _ShapeError(ev.start_mark, f"the alias *{ev.anchor} is inside the node it names, "
                                                 "so it would repeat for ever")
            nodes, height = sizes.get(ev.anchor, (1, 1))  # unknown: the composer says so
            place(nodes, height, ev.start_mark)
            fold(nodes, height)
        elif isinstance(ev, yaml.ScalarEvent):
            place(1, 1, ev.start_mark)
            fold(1, 1)
            if ev.anchor:
                sizes[ev.anchor] = (1, 1)
        elif isinstance(ev, yaml.CollectionStartEvent):
            place(1, 1, ev.start_mark)
            stack.append([ev.anchor, 1, 1])
        elif isinstance(ev, yaml.CollectionEndEvent):
            anchor, nodes, height = stack.pop()
            if anchor:
                sizes[anchor] = (nodes, height)
            fold(nodes, height)


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
            check_shape(text)
            self._loader = yaml.SafeLoader(text)
            node = self._loader.get_single_node()
        except _ShapeError as e:
            self.problems.append(Problem(self.path, e.line, e.message))
            return None
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
            key = self.typed(knode)  # `on:` or `yes:` is the word typed, reported as a key
            if key is None:
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

    def typed(self, node: yaml.Node) -> str | None:
        """A scalar exactly as it was typed, where text is expected: `Yes`, `No`, `Off`, `5`
        and `2024-01-01` are words, not a boolean, a number or a date. None when it is not a
        plain scalar (a list, a mapping, an unsupported tag), or empty / `~`."""
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _TEXT_TAGS:
            return None
        if node.tag.endswith(":null") and node.value in ("", "~"):
            return None
        return node.value

    def text(self, node: yaml.Node, what: str, spoken: bool = False) -> str | None:
        """Non-empty text, white space folded. `spoken` text needs a word to say (a letter or
        a digit): "..." alone would reach the engine and fail there (SPEC §5)."""
        v = self.typed(node)
        if v is None:
            v = self.value(node)  # reports a list, a mapping or an unsupported tag
            if v is not _MISSING:
                self.error(node, f"{what} must be non-empty text")
            return None
        bad = _BAD_CHAR.search(v)
        if bad:
            ch = bad.group()
            name = unicodedata.name(ch, "a control character" if unicodedata.category(ch) == "Cc"
                                    else "not a character")
            self.error(node, f"{what} contains U+{ord(ch):04X} ({name.lower()}), which cannot be "
                             "spoken or shown; remove it")
            return None
        v = " ".join(v.split())
        if not v:
            self.error(node, f"{what} must be non-empty text")
            return None
        if spoken and not has_word(v):
            self.error(node, f"{what} has no word to speak ({v!r}); write the words, or use pause for silence")
            return None
        return v

    def number(self, node: yaml.Node, what: str, lo: float, hi: float, lo_open: bool = False) -> float | None:
        v = self.value(node)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if ok:
            ok = (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            if v is not _MISSING:
                rng = f"more than {lo:g}" if lo_open else f"at least {lo:g}"
                nan = " (not a number)" if isinstance(v, float) and not math.isfinite(v) else ""
                self.error(node, f"{what} must be a number of seconds, {rng} and at most {hi:g}; "
                                 f"got {node_text(node)}{nan}")
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


def has_word(text: str) -> bool:
    """Something an engine can say: a letter or a digit ({rep} counts, it becomes a numeral)."""
    return any(ch.isalnum() for ch in text)


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


