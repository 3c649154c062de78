"""Runs `sisessions ARGS` in this process and, at exit, writes when the first non-silent
frame was handed to the audio player (time.monotonic(), a clock shared by all processes).
Used by play_start.py; the imports are the command's own, so import time counts."""
import atexit
import json
import os
import sys
import time

OUT = os.environ["SISESSIONS_PROBE_OUT"]
import sisessions.play.feeder as _play  # noqa: E402  (play imports it anyway)

_feeders = []
_init = _play.Feeder.__init__
_take = _play.Feeder._take
_cpu = []


def _spy(self, *a, **kw):
    _init(self, *a, **kw)
    _feeders.append(self)


def _spy_take(self, *a, **kw):
    n = _take(self, *a, **kw)
    if self.first_sound is not None and not _cpu:
        _cpu.append(time.process_time())  # CPU this process used up to the first sound
    return n


_play.Feeder.__init__ = _spy
_play.Feeder._take = _spy_take


@atexit.register
def _report():
    with open(OUT, "w") as f:
        json.dump({"first_sound": _feeders[0].first_sound if _feeders else None,
                   "waited": _feeders[0].wait_frames if _feeders else None,
                   "cpu": _cpu[0] if _cpu else None}, f)


from sisessions.cli import main  # noqa: E402

sys.argv[0] = "sisessions"
main()
