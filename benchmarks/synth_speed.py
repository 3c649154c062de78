"""Cold synthesis speed: seconds of speech made per second of wall time, per engine.

    .venv/bin/python benchmarks/synth_speed.py [--engine espeak] [--jobs N] [--session towel]

Synthesizes every distinct line of a session into an empty cache (so the workers' start-up
is included, as a user would see it) and prints the figure. Never run as a test.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default=None)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--session", default="towel")
    ap.add_argument("--side", default="left")
    a = ap.parse_args()
    from sisessions import app
    from sisessions.app import Choices
    from sisessions.voice.cache import Cache
    from sisessions.voice.engines.base import get_engine
    from sisessions.voice.speech import Speech

    c = Choices(engine=a.engine, side=a.side)
    p = app.prepare(app.open_library(()), a.session, c)
    texts = app.texts(p)
    engine = get_engine(a.engine)
    with tempfile.TemporaryDirectory() as tmp:
        with Speech(engine.settings(None, c.rate), Cache(Path(tmp)), jobs=a.jobs) as sp:
            t = time.perf_counter()
            sp.ensure(texts)
            wall = time.perf_counter() - t
            speech = sum(sp.frames(x) for x in texts) / 22050
    print(f"{engine.name}: {len(texts)} lines, {speech:.1f} s of speech in {wall:.2f} s "
          f"with {sp.jobs} worker(s): {speech / wall:.1f}x real time")


if __name__ == "__main__":
    main()
