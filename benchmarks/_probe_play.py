"""Runs `sisessions ARGS` in this process and, at exit, writes when the first non-silent
frame was handed to the audio player (time.monotonic(), a clock shared by all processes).
Used by play_start.py; the imports are the command's own, so import time counts."""
import atexit
import json
import os
import sys

OUT = os.environ["SISESSIONS_PROBE_OUT"]
import sisessions.play as _play  # noqa: E402  (play imports it anyway)

_feeders = []
_init = _play.Feeder.__init__


def _spy(self, *a, **kw):
    _init(self, *a, **kw)
    _feeders.append(self)


_play.Feeder.__init__ = _spy


@atexit.register
def _report():
    with open(OUT, "w") as f:
        json.dump({"first_sound": _feeders[0].first_sound if _feeders else None,
                   "waited": _feeders[0].wait_frames if _feeders else None}, f)


from sisessions.cli import main  # noqa: E402

sys.argv[0] = "sisessions"
main()
