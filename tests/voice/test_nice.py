"""Synthesis during `play` yields the cores to the audio thread: its engine workers run niced."""
from __future__ import annotations

import os

from sisessions import app


def test_play_s_engine_workers_run_nicer_than_the_player_and_export_s_do_not(tmp_path):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    for nice, expected in ((app.PLAYING_NICE, min(19, ours + app.PLAYING_NICE)), (0, ours)):
        choices = app.Choices(engine="espeak", rate=200)
        with app.speech_session(choices, str(tmp_path / f"cache-{nice}"), nice=nice) as speech:
            speech.get("Rest here.")                      # a cache miss: a worker makes it
            [worker] = speech._workers
            assert os.getpriority(os.PRIO_PROCESS, worker.pid) == expected
    assert app.PLAYING_NICE >= 5
