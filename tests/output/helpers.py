"""The fixture session the phone's files are made of (tests/fixtures/phone): the arguments that
export it, and the chapters it has."""
from __future__ import annotations

ARGS = ("short", "--side", "left", "--engine", "espeak")
TITLES = ["Introduction", "Knee Sway", "Side Reach (left side)", "Side Reach (right side)", "Closing"]
