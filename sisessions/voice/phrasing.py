"""Calm pacing of one spoken line: its phrases, and the silences between and after them.

A slow voice that sounds human keeps its words near a normal pace and slows down through
silence: a short one at a comma, a longer one between sentences, and one after the last
sentence before whatever comes next. Each phrase is synthesized on its own and the clip is
assembled from them (clip.assemble), so the pace is the same for every engine, and `--rate`
(words per minute, measured on the clip) is met by sizing these silences.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Split after , ; : (a phrase) or . ! ? (a sentence), with any closing quote or bracket,
# when a space follows: "1,000" and "e.g.," stay whole enough, and no text is ever lost.
_BREAK = re.compile(r"[,;:.!?][\"'’”)\]]*\s+")
SENTENCE_END = ".!?"
# The most one phrase may hold. espeak-ng crashed (SIGSEGV) on one unpunctuated utterance of
# ~25,000 characters, and a calm voice never speaks 35 words without a pause anyway; the
# longest phrase of the built-in scripts has 64 characters, so no written line is changed.
# A longer run is cut at spaces into near-equal pieces with a comma's pause between them.
MAX_PHRASE_CHARS = 200

# The spoken part of a line runs this much faster than the requested rate; the silences
# make up the rest. Engines calibrate their own speed setting to it (engines/*.py). At 1.75
# (Piper at length_scale ~1.5 for 110 wpm) the recogniser of benchmarks/intelligibility.py
# did best; stretching the voice further (1.65) cost clarity, as the voice issue warned.
ARTICULATION = 1.75
# Silences in seconds (lowest, highest). Within these bounds the silences grow or shrink
# together so that the whole clip lasts words / rate; outside them the rate gives way, as a
# gap of 3 s inside a sentence would sound broken. A one-word line ("Rest.") comes out a
# little slower than the rate, as a word cannot be said faster than it is.
# Changing any of these changes the clips: bump clip.PROCESS_VERSION.
COMMA_GAP = (0.15, 0.80)
SENTENCE_GAP = (0.35, 1.40)
END_GAP = (0.15, 4.00)
# A sentence gap is twice a comma gap, and so is the silence after the last phrase.
COMMA_WEIGHT, SENTENCE_WEIGHT, END_WEIGHT = 1.0, 2.0, 2.0


@dataclass(frozen=True)
class Phrase:
    text: str
    ends: str          # "comma", "sentence" or "end" (the last phrase of the line)


def split(text: str) -> tuple[Phrase, ...]:
    """The phrases of a line, each with its own punctuation; joined by spaces they give the line."""
    text = text.strip()
    parts, start = [], 0
    for m in _BREAK.finditer(text):
        parts.append(text[start:m.end()].strip())
        start = m.end()
    parts = [p for p in parts + [text[start:].strip()] if p]
    # A piece with nothing to say ("...", "-") stays with the phrase before it: alone, an
    # engine would make silence of it.
    merged: list[str] = []
    for p in parts:
        if merged and not (_speaks(p) and _speaks(merged[-1])):
            merged[-1] += " " + p
        else:
            merged.append(p)
    parts = [piece for p in merged for piece in _cut(p)]
    if not parts:
        return (Phrase(text.strip(), "end"),)
    out = []
    for i, p in enumerate(parts):
        if i == len(parts) - 1:
            kind = "end"
        else:
            kind = "sentence" if p.rstrip("\"'’”)]")[-1:] in SENTENCE_END else "comma"
        out.append(Phrase(p, kind))
    return tuple(out)


def _cut(part: str, limit: int = MAX_PHRASE_CHARS) -> list[str]:
    """A phrase longer than `limit` as near-equal pieces cut at spaces, each within `limit`
    (a single longer "word" is cut inside). A piece with nothing to say joins the one before
    when it fits, else it is left out: it is silence either way, and an engine handed it
    alone would make no audio."""
    if len(part) <= limit:
        return [part]
    tokens = []
    for w in part.split():
        tokens += [w[i:i + limit] for i in range(0, len(w), limit)]
    # Aim a little under the limit so that the pieces come out near-equal (a piece passes
    # the aim by at most one word), not full ones and a stub at the end.
    goal = len(part) / -(-len(part) // (limit * 9 // 10))
    pieces: list[str] = []
    for t in tokens:
        if pieces and len(pieces[-1]) + 1 + len(t) <= limit and (
                len(pieces[-1]) < goal or not _speaks(t)):
            pieces[-1] += " " + t
        else:
            pieces.append(t)
    out: list[str] = []
    for p in pieces:
        if _speaks(p) or not out:
            out.append(p)
        elif len(out[-1]) + 1 + len(p) <= limit:
            out[-1] += " " + p
    return [p for p in out if _speaks(p)] or out[:1]


def _speaks(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece)


def words(text: str) -> int:
    return len(text.split())


def target_seconds(text: str, wpm: int) -> float:
    """How long the clip of `text` should last at `wpm` words per minute."""
    return words(text) * 60.0 / wpm


def _clamp(v: float, bounds: tuple[float, float]) -> float:
    return min(max(v, bounds[0]), bounds[1])


def gaps(phrases: tuple[Phrase, ...], speech_seconds: float, target: float) -> list[float]:
    """The silence after each phrase (the last one included), in seconds.

    The time left after the speech is shared by weight (comma 1, sentence 2, end 2), each
    gap within its bounds; the silence at the end takes whatever the inner ones could not.
    """
    inner = phrases[:-1]
    budget = target - speech_seconds
    weights = [SENTENCE_WEIGHT if p.ends == "sentence" else COMMA_WEIGHT for p in inner]
    unit = budget / (sum(weights) + END_WEIGHT)
    out = [_clamp(w * unit, SENTENCE_GAP if p.ends == "sentence" else COMMA_GAP)
           for w, p in zip(weights, inner)]
    out.append(_clamp(budget - sum(out), END_GAP))
    return out
