"""What `play` asks around a session (SPEC §8): the short check before a sided session when
nothing says the side today, and the check-in (pain now, 0 to 10) when it ends.

The words are here; the session (play.session) plays them as programs of their own and asks
through the controller, so keys and spoken answers reach the same question.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ASK_SECONDS = 30.0     # a question stands this long; then the session goes on without an answer
BOTH = "both"          # plan.timeline.BOTH: every sided item on both sides, evenly

# "same" (can't tell) is never turned into a guessed side: the sources' advice, then both sides
SAME = ("Same, or you can't tell. That is fine: don't guess a side.",
        "A chiropractor, osteopath or physiotherapist can assess it for you.",
        "The side that hurts is usually not the deeper one.",
        "Today we work evenly, on both sides.")
NO_SIDE = "No side saved, so today we work evenly, on both sides."
CHECK_IN = "How is the pain now, from zero to ten?"
CHECK_IN_KEYS = "Press a number key, or t for ten."
CHECK_IN_SPOKEN = "Press a number key, or t for ten, or say the number."
CHECK_IN_NAME = "Check-in"
PAIN_THANKS = "Thank you."


@dataclass(frozen=True)
class Around:
    """What to ask around one play, made by app (which also writes the log)."""

    check: tuple | None = None                # the quick check's events, when the side is to be asked
    titles: dict | None = None                # its pattern titles
    saved: str | None = None                  # the saved side, for no answer
    saved_since: str | None = None            # "saved 3 days ago", or None when unknown
    for_side: Callable[[str], object] | None = None   # the session prepared for a side (app.Prepared)
    check_in: bool = True                     # ask for pain at the end
    record: Callable[[str, str], None] | None = None  # ("check", "left") / ("pain", "4"), written at once


def saved_line(side: str, since: str | None) -> str:
    return f"Your saved side: {side}{f', {since}' if since else ''}."


def unanswered(around: Around) -> tuple[str, tuple[str, ...]]:
    """(the side, the lines said) when the check was not answered: the saved side, said aloud,
    else both sides evenly."""
    if around.saved:
        return around.saved, (f"No answer. {saved_line(around.saved, around.saved_since)}",)
    return BOTH, (NO_SIDE,)


def answered(answer: str | None, around: Around) -> tuple[str, tuple[str, ...]]:
    """(the side the session is played on, the lines said before it) after the check."""
    if answer in ("left", "right"):
        return answer, (f"The {answer} side today.",)
    if answer == "same":
        return BOTH, SAME
    return unanswered(around)
