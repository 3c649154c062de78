"""What `play` asks around a session (SPEC §8): the short check before a sided session when
nothing says the side today, and the check-in (pain now, 0 to 10) when it ends.

The words are here; the session (play.session) plays them as programs of their own and asks
through the controller, so keys and spoken answers reach the same question.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ASK_SECONDS = 30.0     # a question stands this long; then the session goes on without an answer

# "same" (can't tell) is never turned into a guessed side: the sources' advice, then both sides
SAME = ("Same, or you can't tell. That is fine: don't guess a side.",
        "A chiropractor, osteopath or physiotherapist can assess it for you.",
        "The side that hurts is usually not the deeper one.",
        "Today we work evenly, on both sides.")
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
    # for_answer(answer, asked, record=True) -> (the session prepared for it (app.Prepared), the
    # lines said before it); it writes the check to the practice log unless record is False
    for_answer: Callable[..., tuple[object, tuple[str, ...]]] | None = None
    check_in: bool = True                     # ask for pain at the end


def lead(answer: str | None, asked: bool) -> tuple[str, ...]:
    """The lines said after the check, before the session (the session's own opening then says
    a saved side's age, or that no side is known)."""
    if answer in ("left", "right"):
        return (f"The {answer} side today.",)
    if answer == "same":
        return SAME
    return ("No answer to the check.",) if asked else ()
