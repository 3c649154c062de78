"""SIGTERM and SIGHUP stop the program as Ctrl-C does: the one place their handlers are set.

Their default action ends the process at once (exit 143/129, no message, a hidden .part left
beside an export, no practice-log record for a play). Every command runs inside
`stop_on_signals` (cli/base), and anything that can also run outside a command (a play) uses
the same block, which then changes nothing.
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import threading

STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)
GRACE = 30.0   # seconds a child is given to end cleanly once told to stop

_installed = False


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (its number is args[0]): stop as Ctrl-C does, so every clean-up
    (temp files, workers, the practice-log record) runs."""


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM and SIGHUP into Terminated in the main thread while the block runs.

    Once raised, later ones are ignored so they cannot cut the clean-up short; SIGKILL still
    ends everything. Inside another such block, or off the main thread, it does nothing.
    """
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    old = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    _installed = True
    try:
        yield
    finally:
        _installed = False
        for s, h in old.items():
            signal.signal(s, h)


def wait(child: subprocess.Popen, grace: float = GRACE) -> int:
    """The child's exit code. When this process is told to stop (Terminated), the child is
    told the same and given `grace` seconds to end as it would itself (its log record, no
    half-written file), never killed mid-write; then Terminated goes on. Ctrl-C in a terminal
    reaches the child by itself (one process group), so it is only waited for."""
    try:
        return child.wait()
    except KeyboardInterrupt as stop:
        if isinstance(stop, Terminated) and stop.args:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(stop.args[0])
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
