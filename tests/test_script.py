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
    ("phase-bad", "patterns", "title: A\nsteps:\n  - say: Hi\n    phase: squeeze\n", 4, "tighten | release | rest | move"),
    ("phase-on-breathe", "patterns", "title: A\nsteps:\n  - breathe: 2\n    phase: rest\n", 4, "phase belongs on a say or pause"),
    ("phase-alone", "patterns", "title: A\nsteps:\n  - phase: rest\n", 3, "exactly one of"),
    ("phase-dup", "patterns", "title: A\nsteps:\n  - say: Hi\n    phase: rest\n    phase: move\n", 5, "duplicate key 'phase'"),
    ("item-keep-text", "sessions", "title: S\nitems:\n  - pattern: base\n    keep: maybe\n", 4, "true or false"),
    ("item-keep-and-optional", "sessions", "title: S\nitems:\n  - pattern: base\n    optional: true\n    keep: true\n", 5, "both 'keep: true' and 'optional: true'"),
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


# ---------------------------------------------------------------- issue 10: hostile input

def validate_one(lib, folder, name, text):
    target = lib / folder / name
    target.write_text(text)
    result = CliRunner().invoke(main, ["--scripts", str(lib), "validate", str(target)])
    return target, result


BAD_TEXT = [
    # (case id, file text, line, words): control characters, then text with no word to speak
    ("bel-in-title", 'title: "Bell\\a"\n' + GOOD_STEPS, 1, "U+0007"),
    ("escape-in-say", 'title: A\nsteps:\n  - say: "Lie \\e[31mdown"\n', 3, "U+001B"),
    ("nul-in-bare-step", 'title: A\nsteps:\n  - "Lie\\0down"\n', 3, "U+0000"),
    ("del-in-about", 'title: A\nabout: "x\\x7fy"\n' + GOOD_STEPS, 2, "U+007F"),
    ("c1-nel-in-say", 'title: A\nsteps:\n  - say: "Lie\\Ndown"\n', 3, "U+0085"),
    ("c1-csi-in-title", 'title: "A\\x9b31m"\n' + GOOD_STEPS, 1, "U+009B"),
    ("lone-surrogate", 'title: A\nsteps:\n  - say: "Hi \\ud800"\n', 3, "U+D800"),
    ("say-dots", 'title: A\nsteps:\n  - say: "..."\n', 3, "no word to speak"),
    ("bare-step-dash", "title: A\nsteps:\n  - say: Hello.\n  - '—'\n", 4, "no word to speak"),
    ("say-emoji", 'title: A\nsteps:\n  - say: "🙏 🙏"\n', 3, "no word to speak"),
]


@pytest.mark.parametrize("case,text,line,words", BAD_TEXT, ids=[c[0] for c in BAD_TEXT])
def test_control_characters_and_wordless_text_are_refused_at_validation(tmp_path, case, text, line, words):
    target, result = validate_one(make_library(tmp_path / "lib"), "patterns", "bad.yaml", text)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{target}:{line}: "), result.output
    assert words in result.output


def test_session_texts_are_checked_too(tmp_path):
    text = 'title: "S\\x1b"\nintro: "..."\noutro: "Rest\\x07."\nitems: [base]\n'
    target, result = validate_one(make_library(tmp_path / "lib"), "sessions", "bad.yaml", text)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [ln.split(":")[1] for ln in lines] == ["1", "2", "3"], lines
    assert "U+001B" in lines[0] and "no word to speak" in lines[1] and "U+0007" in lines[2]


def test_tabs_line_breaks_and_placeholders_are_fine(tmp_path):
    text = ('title: "Tab\\there"\nrepetitions: 2\nsteps:\n  - say: "Lie\\tdown.\\r\\nRest."\n'
            '  - say: >\n      Fold\n      this.\n  - repeat:\n      steps: ["{rep}."]\n')
    target, result = validate_one(make_library(tmp_path / "lib"), "patterns", "fine.yaml", text)
    assert result.exit_code == 0, result.output
    p = load_pattern(target)
    assert p.title == "Tab here"
    assert [s.text for s in p.steps[:2]] == ["Lie down. Rest.", "Fold this."]


@pytest.mark.parametrize("command", [["show"], ["synth"], ["export", "-o", "out.mp3"], ["play"]])
def test_a_line_with_no_word_is_exit_2_from_every_command(tmp_path, cli, command):
    lib = make_library(tmp_path / "lib", "patterns", "dots.yaml", 'title: A\nsteps:\n  - say: Hello.\n  - say: "..."\n')
    proc = cli("--scripts", lib, command[0], "dots", *command[1:], "--engine", "espeak", check=2)
    assert proc.stderr.startswith(f"{lib / 'patterns' / 'dots.yaml'}:4: say has no word to speak"), proc.stderr
    assert not (tmp_path / "out.mp3").exists()


YAML_WORDS = [
    # (the YAML as typed, the text that must be kept)
    ("Yes", "Yes"), ("No", "No"), ("Off", "Off"), ("on", "on"), ("2024-01-01", "2024-01-01"),
    ("5", "5"), ("1.50", "1.50"), ("0x1F", "0x1F"), ("1_000", "1_000"), (".nan", ".nan"),
    ("null", "null"), ("'Yes'", "Yes"),
]


@pytest.mark.parametrize("typed,text", YAML_WORDS, ids=[w[0] for w in YAML_WORDS])
def test_yaml_1_1_words_are_the_words_typed(tmp_path, typed, text):
    """SPEC §5: `say: Yes` is the word "Yes"; a title, a bare step and intro alike."""
    lib = make_library(tmp_path / "lib")
    pat = lib / "patterns" / "words.yaml"
    pat.write_text(f"title: {typed}\nabout: {typed}\nsteps:\n  - say: {typed}\n  - {typed}\n")
    (lib / "sessions" / "s.yaml").write_text(f"title: {typed}\nintro: {typed}\noutro: {typed}\nitems: [words]\n")
    result = CliRunner().invoke(main, ["--scripts", str(lib), "validate", str(lib)])
    assert result.exit_code == 0, result.output
    p = load_pattern(pat)
    assert (p.title, p.about, p.steps[0].text, p.steps[1].text) == (text,) * 4
    s = Library([lib]).session("s")
    assert (s.title, s.intro, s.outro) == (text,) * 3


def test_ids_and_keys_are_the_words_typed(tmp_path):
    lib = make_library(tmp_path / "lib")
    for pid in ("off", "2024", "yes"):
        (lib / "patterns" / f"{pid}.yaml").write_text(f"title: {pid}\n" + GOOD_STEPS)
    (lib / "sessions" / "s.yaml").write_text("title: S\nitems:\n  - off\n  - 2024\n  - pattern: yes\n")
    result = CliRunner().invoke(main, ["--scripts", str(lib), "validate", str(lib)])
    assert result.exit_code == 0, result.output
    assert [it.pattern for it in Library([lib]).session("s").items] == ["off", "2024", "yes"]
    target, result = validate_one(lib, "patterns", "key.yaml", "title: A\non: true\n" + GOOD_STEPS)
    assert result.exit_code == 2 and result.output.startswith(f"{target}:2: unknown key 'on'"), result.output


NOT_NUMBERS = [
    ("pause-nan", "patterns", "title: A\nsteps:\n  - pause: .nan\n", 3),
    ("pause-inf", "patterns", "title: A\nsteps:\n  - pause: .inf\n", 3),
    ("pause-minus-inf", "patterns", "title: A\nsteps:\n  - pause: -.Inf\n", 3),
    ("breathe-nan", "patterns", "title: A\nsteps:\n  - breathe: .NaN\n", 3),
    ("repetitions-inf", "patterns", "title: A\nrepetitions: .inf\n" + GOOD_STEPS, 2),
    ("rest-nan", "sessions", "title: S\nrest_between: .NAN\nitems: [base]\n", 2),
    ("breath-in-inf", "sessions", "title: S\nbreath: {in: .inf}\nitems: [base]\n", 2),
    ("item-reps-nan", "sessions", "title: S\nitems:\n  - pattern: base\n    repetitions: .nan\n", 4),
]


@pytest.mark.parametrize("case,folder,text,line", NOT_NUMBERS, ids=[c[0] for c in NOT_NUMBERS])
def test_nan_and_infinity_in_yaml_are_refused(tmp_path, case, folder, text, line):
    target, result = validate_one(make_library(tmp_path / "lib"), folder, "bad.yaml", text)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{target}:{line}: "), result.output


def nested_repeats(n: int) -> str:
    return "title: Deep\nsteps:\n  - " + "{repeat: {times: 1, steps: [" * n + "Hi." + "]}}" * n + "\n"


def fan_out(levels: int = 9) -> str:
    """~3 KB whose aliases fan out ten-fold per level: 10**levels steps once expanded."""
    rows = ['  - repeat: {times: 1, steps: &l0 [' + ", ".join(['"Hi."'] * 10) + "]}"]
    for i in range(1, levels):
        rows.append(f"  - repeat: {{times: 1, steps: &l{i} [" +
                    ", ".join([f"{{repeat: {{times: 1, steps: *l{i - 1}}}}}"] * 10) + "]}")
    return "title: Fan\nsteps:\n" + "\n".join(rows) + "\n"


HOSTILE = [
    ("recursive-alias", "title: Loop\nsteps: &s\n  - say: Hi.\n  - repeat: {times: 2, steps: *s}\n", 4,
     "alias *s is inside the node it names"),
    ("nested-300", nested_repeats(300), 3, "nested too deeply"),
    ("fan-out", fan_out(), 7, "too large once its aliases are expanded"),  # level 5: ~160,000
    ("repeats-11-deep", nested_repeats(11), 3, "repeats may nest at most 10 deep"),
]


@pytest.mark.parametrize("case,text,line,words", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_aliases_and_nesting_are_refused_at_once(tmp_path, cli, case, text, line, words):
    """A subprocess with a timeout: before the fix these ran for minutes or hit RecursionError."""
    lib = make_library(tmp_path / "lib")
    target = lib / "patterns" / "bad.yaml"
    target.write_text(text)
    assert len(text) < 10_000
    for command in (["validate", target], ["show", "bad"]):
        proc = cli("--scripts", lib, *command, check=2, timeout=30)
        assert proc.stderr.startswith(f"{target}:{line}: "), proc.stderr
        assert words in proc.stderr and "Traceback" not in proc.stderr


def test_a_hostile_file_leaves_the_rest_of_the_library_working(tmp_path, cli):
    lib = make_library(tmp_path / "lib")
    for name, text, _, _ in HOSTILE:
        (lib / "patterns" / f"{name}.yaml").write_text(text)
    (lib / "sessions" / "fine.yaml").write_text("title: Fine Session\nitems: [base]\n")
    out = cli("--scripts", lib, "list", check=0, timeout=60).stdout
    assert "Fine Session" in out and "Base" in out
    for name, *_ in HOSTILE:
        assert any(ln.split()[:2] == [name, "(invalid:"] for ln in out.splitlines()), out
    proc = cli("--scripts", lib, "validate", lib, check=2, timeout=60)
    bad = {ln.split(":")[0] for ln in proc.stderr.strip().splitlines()}
    assert bad == {str(lib / "patterns" / f"{name}.yaml") for name, *_ in HOSTILE}, proc.stderr


def test_aliases_within_bounds_still_work(tmp_path):
    text = ("title: Reuse\nrepetitions: 2\nsteps:\n  - repeat:\n      steps: &arch\n        - say: Arch.\n"
            "        - pause: 3\n  - repeat: {steps: *arch}\n  - " + nested_repeats(10).split("  - ", 1)[1])
    target, result = validate_one(make_library(tmp_path / "lib"), "patterns", "reuse.yaml", text)
    assert result.exit_code == 0, result.output
    p = load_pattern(target)
    assert p.steps[0].steps == p.steps[1].steps


# ---------------------------------------------------------------- issue 10 item 14


def test_the_3_hour_limit_names_the_option_that_causes_it(tmp_path, cli):
    lib = make_library(tmp_path / "lib")  # long.yaml: about 10 minutes as written
    (lib / "patterns" / "slow.yaml").write_text(
        "title: Slow\nsteps:\n  - repeat:\n      times: 20\n      steps:\n        - pause: 300\n")
    proc = cli("--scripts", lib, "show", "slow", "--pace", "3", check=2)
    assert proc.stderr.startswith("sisessions: With --pace 3 the session would last more than 3 hours"), proc.stderr
    assert "slow.yaml" not in proc.stderr and "smaller --pace" in proc.stderr
    cli("--scripts", lib, "show", "slow", "--pace", "1.5", check=0)


def test_the_3_hour_limit_still_blames_the_script_when_it_is_too_long_as_written(tmp_path, cli):
    lib = make_library(tmp_path / "lib")
    (lib / "patterns" / "slow.yaml").write_text(
        "title: Slow\nsteps:\n  - repeat:\n      times: 40\n      steps:\n        - pause: 300\n")
    proc = cli("--scripts", lib, "show", "slow", "--pace", "3", check=2)
    assert proc.stderr.startswith(f"{lib / 'patterns' / 'slow.yaml'}:3: the session would last more than 3 hours")


# ---------------------------------------------------------------- issue 10 item 8: long lines


def test_a_very_long_unpunctuated_line_synthesizes_with_espeak(tmp_path):
    """espeak-ng crashed (SIGSEGV, 3 times in 3 here) on this line as one utterance. Every phrase
    goes to a real espeak worker process as speech.py sends them, and each gives speech."""
    import wave

    import numpy as np

    from sisessions.voice import phrasing
    from sisessions.voice.engines.base import Worker, engine_timeout, get_engine

    words = "slowly let your knees fall to the side and breathe".split()
    text = " ".join(words[i % len(words)] for i in range(10_000))  # 51,000 characters, no stop
    phrases = phrasing.split(text)
    assert " ".join(p.text for p in phrases) == text
    assert max(len(p.text) for p in phrases) <= phrasing.MAX_PHRASE_CHARS
    worker = Worker(get_engine("espeak").settings(None, 110))
    try:
        for i, p in enumerate(phrases):
            out = tmp_path / f"{i}.wav"
            worker.request({"op": "synth", "text": p.text, "out": str(out)}, engine_timeout(p.text))
            with wave.open(str(out)) as w:
                x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32768.0
                seconds = w.getnframes() / w.getframerate()
            n = len(p.text.split())
            assert n * 60 / 400 < seconds < n * 60 / 100, (i, n, seconds)  # speech, at a speaking pace
            assert np.sqrt((x ** 2).mean()) > 0.01
    finally:
        worker.close()


@pytest.mark.parametrize("text,longest", [
    ("a" * 450 + " ok", 200),            # one "word" longer than a phrase is cut inside
    ("Rest. " + "- " * 400 + "end", 200),  # a run with nothing to say stays within the bound
    (" ".join(["word"] * 41), 105),       # 204 characters: two near-equal pieces, not 200 + 4
])
def test_no_phrase_is_longer_than_an_engine_can_take(text, longest):
    from sisessions.voice import phrasing

    phrases = phrasing.split(text)
    assert max(len(p.text) for p in phrases) <= longest
    assert all(any(ch.isalnum() for ch in p.text) for p in phrases)
    assert phrasing.split("Lie down, and rest.") == (phrasing.Phrase("Lie down,", "comma"),
                                                    phrasing.Phrase("and rest.", "end"))

