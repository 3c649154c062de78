"""A small library of patterns on disk for the script tests: a base pattern, a long one, one with
a repeat and no count, and one file of the test's own."""
from __future__ import annotations

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
