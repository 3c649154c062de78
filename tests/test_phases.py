"""Phases on say and pause steps (SPEC §2.2): how they are read, and `validate`'s rhythm warning."""
from __future__ import annotations

from sisessions.script.load import load_pattern
from tests.test_script import make_library


PHASED = """title: Phased
repetitions: 2
steps:
  - say: Lie down.
    phase: move
  - pause: 3
  - repeat:
      steps:
        - {say: Slowly tighten., phase: tighten}
        - pause: 6
        - pause: 1
        - say: Let go.
        - pause: 2
          phase: release
        - say: Rest.
          phase: rest
  - pause: 4
"""


def test_phases_are_read_and_a_pause_continues_the_phase_before_it(tmp_path):
    f = tmp_path / "phased.yaml"
    f.write_text(PHASED, encoding="utf-8")
    p = load_pattern(f)
    assert [(type(st).__name__, st.phase) for st in p.steps[:2]] == [("Say", "move"), ("Pause", "move")]
    body = p.steps[2].steps
    assert [st.phase for st in body] == ["tighten", "tighten", "tighten", None, "release", "rest"]
    assert p.steps[3].phase is None  # after a repeat: nothing to continue
    assert body[0].loc.line == 9


def _warn_lib(tmp_path, text):
    lib = make_library(tmp_path / "lib")
    f = lib / "patterns" / "w.yaml"
    f.write_text(text, encoding="utf-8")
    return lib, f


RUSHED = """title: Rushed
repetitions: 3
steps:
  - repeat:
      steps:
        - say: Slowly tighten your back.
          phase: tighten
        - pause: 8
        - say: Release.
          phase: release
        - pause: 6
        - say: Rest.
          phase: rest
        - pause: 10
"""


def test_validate_warns_where_a_release_is_shorter_than_the_rhythm_asks(tmp_path, cli):
    """SPEC §2.2: the release lasts >= 1.25 times the tighten; a warning with FILE:LINE, exit 0."""
    lib, f = _warn_lib(tmp_path, RUSHED)
    proc = cli("--scripts", lib, "validate", f)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{f}:9: warning: ") and "1.25" in lines[0]
    assert "all valid (1 warning)" in proc.stdout and "Traceback" not in proc.stderr
    # the same file with a slower release: no warning
    f.write_text(RUSHED.replace("pause: 6", "pause: 14"), encoding="utf-8")
    proc = cli("--scripts", lib, "validate", f)
    assert proc.returncode == 0 and proc.stderr == "" and "all valid." in proc.stdout


def test_a_warning_does_not_hide_a_problem(tmp_path, cli):
    lib, f = _warn_lib(tmp_path, RUSHED)
    bad = lib / "patterns" / "bad.yaml"
    bad.write_text("title: Bad\nsteps:\n  - pause: 0\n", encoding="utf-8")
    proc = cli("--scripts", lib, "validate", lib)
    assert proc.returncode == 2
    assert f"{f}:9: warning:" in proc.stderr and f"{bad}:3: pause" in proc.stderr
