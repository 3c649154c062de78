"""Script loading as SPEC §2: one case for every kind of invalid input, with exit code and line."""
from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from sisessions.cli import main
from sisessions.script.library import Library
from sisessions.script.load import load_pattern
from sisessions.script.model import Pause, Repeat, Say

GOOD_STEPS = "steps:\n  - say: Rest.\n"

# (case id, folder, file text, expected line, words the message must contain)
INVALID = [
    ("yaml-syntax", "patterns", "title: A\nsteps:\n  - say: [unclosed\n", 4, "invalid YAML"),
    ("top-not-mapping", "patterns", "- say: Hello\n", 1, "must be a mapping"),
    ("empty-file", "patterns", "", 1, "empty"),
    ("duplicate-key", "patterns", "title: A\ntitle: B\n" + GOOD_STEPS, 2, "duplicate key 'title'"),
    ("unknown-key", "patterns", "titel: A\n" + GOOD_STEPS, 1, "unknown key 'titel'"),
    ("missing-title", "patterns", GOOD_STEPS, 1, "needs 'title'"),
    ("empty-title", "patterns", "title: ''\n" + GOOD_STEPS, 1, "title must be non-empty"),
    ("missing-steps", "patterns", "title: A\n", 1, "needs 'steps'"),
    ("steps-empty", "patterns", "title: A\nsteps: []\n", 2, "non-empty list"),
    ("steps-not-list", "patterns", "title: A\nsteps: hello\n", 2, "non-empty list"),
    ("bad-stage", "patterns", "title: A\nstage: warmup\n" + GOOD_STEPS, 2, "unlock | reshape | reinforce"),
    ("bad-sided", "patterns", "title: A\nsided: 3\n" + GOOD_STEPS, 2, "true or false"),
    ("repetitions-0", "patterns", "title: A\nrepetitions: 0\n" + GOOD_STEPS, 2, "from 1 to 100"),
    ("repetitions-101", "patterns", "title: A\nrepetitions: 101\n" + GOOD_STEPS, 2, "from 1 to 100"),
    ("step-two-keys", "patterns", "title: A\nsteps:\n  - say: Hi\n    pause: 3\n", 3, "exactly one of"),
    ("step-unknown", "patterns", "title: A\nsteps:\n  - wait: 3\n", 3, "unknown key 'wait'"),
    ("step-list", "patterns", "title: A\nsteps:\n  - [a, b]\n", 3, "exactly one of"),
    ("say-empty", "patterns", "title: A\nsteps:\n  - say: '  '\n", 3, "say must be non-empty"),
    ("pause-zero", "patterns", "title: A\nsteps:\n  - pause: 0\n", 3, "more than 0"),
    ("pause-negative", "patterns", "title: A\nsteps:\n  - pause: -2\n", 3, "more than 0"),
    ("pause-601", "patterns", "title: A\nsteps:\n  - pause: 601\n", 3, "at most 600"),
    ("pause-text", "patterns", "title: A\nsteps:\n  - pause: long\n", 3, "number of seconds"),
    ("pause-bool", "patterns", "title: A\nsteps:\n  - pause: true\n", 3, "number of seconds"),
    ("breathe-0", "patterns", "title: A\nsteps:\n  - breathe: 0\n", 3, "from 1 to 20"),
    ("breathe-21", "patterns", "title: A\nsteps:\n  - breathe: 21\n", 3, "from 1 to 20"),
    ("breathe-key", "patterns", "title: A\nsteps:\n  - breathe: {count: 2, slow: true}\n", 3, "unknown key 'slow'"),
    ("breathe-cue", "patterns", "title: A\nsteps:\n  - breathe:\n      count: 2\n      cue: maybe\n", 5, "true or false"),
    ("breathe-no-count", "patterns", "title: A\nsteps:\n  - breathe: {cue: true}\n", 3, "needs 'count'"),
    ("chime-false", "patterns", "title: A\nsteps:\n  - chime: false\n", 3, "chime must be true"),
    ("repeat-no-steps", "patterns", "title: A\nsteps:\n  - repeat: {times: 2}\n", 3, "needs 'steps'"),
    ("repeat-times-0", "patterns", "title: A\nsteps:\n  - repeat:\n      times: 0\n      steps: [Hi]\n", 4, "from 1 to 100"),
    ("repeat-times-101", "patterns", "title: A\nsteps:\n  - repeat:\n      times: 101\n      steps: [Hi]\n", 4, "from 1 to 100"),
    ("repeat-unknown", "patterns", "title: A\nsteps:\n  - repeat:\n      times: 2\n      each: 3\n      steps: [Hi]\n", 5, "unknown key 'each'"),
    ("repeat-dup", "patterns", "title: A\nsteps:\n  - repeat:\n      times: 2\n      times: 3\n      steps: [Hi]\n", 5, "duplicate key 'times'"),
    ("nested-step-error", "patterns", "title: A\nsteps:\n  - repeat:\n      times: 2\n      steps:\n        - pause: 0\n", 6, "more than 0"),
    ("side-not-sided", "patterns", "title: A\nsteps:\n  - say: Turn to your {side}.\n", 3, "needs 'sided: true'"),
    ("other-side-not-sided", "patterns", "title: A\nsteps:\n  - Lift your {other_side} arm.\n", 3, "needs 'sided: true'"),
    ("rep-outside-repeat", "patterns", "title: A\nsteps:\n  - say: Number {rep}.\n", 3, "inside a repeat"),
    ("unknown-placeholder", "patterns", "title: A\nsided: true\nsteps:\n  - say: Hi {name}.\n", 4, "unknown placeholder '{name}'"),
    ("stray-brace", "patterns", "title: A\nsteps:\n  - say: 'Hi } there'\n", 3, "unmatched brace"),
    ("unsafe-tag", "patterns", "title: !!python/object/apply:os.system ['echo pwned']\n" + GOOD_STEPS, 1, "cannot read this value"),
    ("runaway-repeat", "patterns", "title: A\nsteps:\n  - repeat:\n      times: 100\n      steps:\n        - repeat:\n            times: 100\n            steps:\n              - pause: 60\n", 3, "more than 3 hours"),
    ("session-no-items", "sessions", "title: S\n", 1, "needs 'items'"),
    ("session-items-empty", "sessions", "title: S\nitems: []\n", 2, "non-empty list"),
    ("session-unknown-key", "sessions", "title: S\nrest: 5\nitems: [base]\n", 2, "unknown key 'rest'"),
    ("session-dup-key", "sessions", "title: S\nitems: [base]\nitems: [base]\n", 3, "duplicate key 'items'"),
    ("session-rest-negative", "sessions", "title: S\nrest_between: -1\nitems: [base]\n", 2, "at least 0"),
    ("session-chime-text", "sessions", "title: S\nchime: loud\nitems: [base]\n", 2, "true or false"),
    ("session-breath-key", "sessions", "title: S\nbreath: {in: 4, hold: 2}\nitems: [base]\n", 2, "unknown key 'hold'"),
    ("session-breath-zero", "sessions", "title: S\nbreath: {in: 0}\nitems: [base]\n", 2, "more than 0"),
    ("session-intro-brace", "sessions", "title: S\nintro: Lie on your {side}.\nitems: [base]\n", 2, "no placeholders"),
    ("item-unknown-pattern", "sessions", "title: S\nitems:\n  - base\n  - bsae\n", 4, "unknown pattern 'bsae'"),
    ("item-bad-id", "sessions", "title: S\nitems:\n  - Base Pattern\n", 3, "pattern id"),
    ("item-unknown-key", "sessions", "title: S\nitems:\n  - pattern: base\n    reps: 3\n", 4, "unknown key 'reps'"),
    ("item-bad-side", "sessions", "title: S\nitems:\n  - pattern: base\n    side: middle\n", 4, "working | other | both | left | right"),
    ("item-reps-0", "sessions", "title: S\nitems:\n  - pattern: base\n    repetitions: 0\n", 4, "from 1 to 100"),
    ("item-no-pattern", "sessions", "title: S\nitems:\n  - side: left\n", 3, "needs 'pattern'"),
    ("session-runaway", "sessions", "title: S\nitems:\n  - base\n  - pattern: long\n    repetitions: 100\n", 4, "more than 3 hours"),
]

NOCOUNT = "title: No count\nsteps:\n  - say: Hello.\n  - repeat:\n      steps: [Hi]\n"
BASE = "title: Base\nrepetitions: 2\nsteps:\n  - repeat:\n      steps:\n        - say: Slowly.\n        - pause: 5\n"
LONG = "title: Long\nrepetitions: 3\nsteps:\n  - repeat:\n      steps:\n        - pause: 200\n"


def make_library(root, folder=None, name=None, text=None):
    (root / "patterns").mkdir(parents=True, exist_ok=True)
    (root / "sessions").mkdir(parents=True, exist_ok=True)
    (root / "patterns" / "base.yaml").write_text(BASE)
    (root / "patterns" / "long.yaml").write_text(LONG)
    (root / "patterns" / "nocount.yaml").write_text(NOCOUNT)
    if folder:
        (root / folder / name).write_text(text)
    return root


@pytest.mark.parametrize("case,folder,text,line,words", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_input_names_file_and_line(tmp_path, case, folder, text, line, words):
    lib = make_library(tmp_path / "lib", folder, "bad.yaml", text)
    target = lib / folder / "bad.yaml"
    result = CliRunner().invoke(main, ["--scripts", str(lib), "validate", str(target)])
    assert result.exit_code == 2, result.output
    first = result.output.strip().splitlines()[0]
    assert first.startswith(f"{target}:{line}: "), result.output
    assert words in first
    assert "Traceback" not in result.output


def test_bad_file_name(tmp_path):
    lib = make_library(tmp_path / "lib", "patterns", "Bad_Name.yaml", "title: A\n" + GOOD_STEPS)
    result = CliRunner().invoke(main, ["validate", str(lib / "patterns" / "Bad_Name.yaml")])
    assert result.exit_code == 2
    assert f"{lib / 'patterns' / 'Bad_Name.yaml'}:1: file name" in result.output and "not a valid id" in result.output


def test_validate_reports_every_problem_not_just_the_first(tmp_path):
    text = textwrap.dedent("""\
        titel: A
        stage: warmup
        steps:
          - pause: 0
          - breathe: 30
          - say: Hi {who}.
        """)
    lib = make_library(tmp_path / "lib", "patterns", "many.yaml", text)
    result = CliRunner().invoke(main, ["validate", str(lib)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [ln.split(":")[1] for ln in lines] == ["1", "1", "2", "4", "5", "6"], lines


def test_valid_library_passes(tmp_path):
    from tests.conftest import FIXTURES

    result = CliRunner().invoke(main, ["validate", str(FIXTURES / "lib")])
    assert result.exit_code == 0, result.output
    assert "6 files checked: all valid." in result.output


def test_builtin_library_is_valid():
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output


def test_model_keeps_values_and_lines(tmp_path):
    text = "title: A\nrepetitions: 3\nsteps:\n  - Lie down.\n  - pause: 2.5\n  - repeat:\n      count: true\n      steps: ['Lift {rep} of {reps}.']\n"
    f = tmp_path / "a.yaml"
    f.write_text(text)
    p = load_pattern(f)
    assert p.id == "a" and p.repetitions == 3
    assert p.steps[0] == Say("Lie down.", p.steps[0].loc) and p.steps[0].loc.line == 4
    assert isinstance(p.steps[1], Pause) and p.steps[1].seconds == 2.5 and p.steps[1].loc.line == 5
    rep = p.steps[2]
    assert isinstance(rep, Repeat) and rep.times is None and rep.count and rep.loc.line == 6


def test_user_library_overrides_builtin(tmp_path):
    lib = make_library(tmp_path / "mine")
    (lib / "patterns" / "towel-wall-rock.yaml").write_text("title: My Own Towel\n" + GOOD_STEPS)
    from sisessions import paths

    library = Library(paths.library_dirs([str(lib)]))
    assert library.pattern("towel-wall-rock").title == "My Own Towel"
    assert Library(paths.library_dirs([])).pattern("towel-wall-rock").title != "My Own Towel"


def test_scripts_env_path_list(tmp_path, monkeypatch, cli):
    a = make_library(tmp_path / "a")
    b = make_library(tmp_path / "b")
    (b / "sessions" / "from-b.yaml").write_text("title: From B\nitems: [base]\n")
    monkeypatch.setenv("SISESSIONS_SCRIPTS", f"{a}:{b}")
    out = cli("list", check=0).stdout
    assert "from-b" in out and "towel" in out


def test_missing_scripts_folder_is_exit_2(tmp_path, cli):
    proc = cli("--scripts", tmp_path / "nope", "list", check=2)
    assert "no such scripts folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_item_override_gives_a_repeat_its_count(tmp_path):
    """SPEC §2.2: a repeat's times defaults to the pattern's repetitions or the session's override."""
    lib = make_library(tmp_path / "lib", "sessions", "ok.yaml", "title: S\nitems:\n  - pattern: nocount\n    repetitions: 3\n")
    result = CliRunner().invoke(main, ["--scripts", str(lib), "validate", str(lib)])
    assert result.exit_code == 0, result.output  # nocount.yaml alone is valid too
    from sisessions.plan.timeline import PlanOptions, expand

    library = Library([lib])
    events = expand(library.session("ok"), library, PlanOptions())
    assert [e.text for e in events].count("Hi") == 3


def test_a_repeat_with_no_count_anywhere_names_the_repeat(tmp_path):
    lib = make_library(tmp_path / "lib", "sessions", "bad.yaml", "title: S\nitems:\n  - nocount\n")
    result = CliRunner().invoke(main, ["--scripts", str(lib), "validate", str(lib / "sessions" / "bad.yaml")])
    assert result.exit_code == 2
    assert result.output.startswith(f"{lib / 'patterns' / 'nocount.yaml'}:4: repeat needs 'times'")


def test_validate_checks_items_of_a_session_with_other_problems(tmp_path):
    text = "title: S\nitems:\n  - nope\n  - pattern: base\n    side: middle\n"
    lib = make_library(tmp_path / "lib", "sessions", "bad.yaml", text)
    result = CliRunner().invoke(main, ["validate", str(lib / "sessions" / "bad.yaml")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [ln.split(":")[1] for ln in lines] == ["5", "3"], lines
    assert "unknown pattern 'nope'" in lines[1]


def test_a_problem_is_reported_once_whatever_the_path_spelling(tmp_path, monkeypatch):
    lib = make_library(tmp_path / "lib", "patterns", "bad.yaml", "title: A\nsteps:\n  - pause: 0\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--scripts", "lib", "validate", "lib", str(lib)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
