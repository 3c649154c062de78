"""The user's saved settings (the working side) in the user config folder.

Every change is a read-modify-write under one lock (on the config folder), so two programs
saving at once (`side set` while the companion saves the streak choice) never undo each
other; readers need no lock, since the file is only ever replaced whole.
"""
from __future__ import annotations

import datetime as dt
import json

from sisessions import paths
from sisessions.errors import SisessionsError, UsageError
from sisessions.fileio import atomic_write_text, locked, private_dir, read_regular
from sisessions.script.model import SIDES

MAX_BYTES = 1 << 20  # far more than a settings file ever holds


def _file():
    return paths.config_dir() / "settings.json"


def load() -> dict:
    f = _file()
    try:
        data = json.loads(read_regular(f, MAX_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as e:
        why = e.strerror or str(e)
        raise SisessionsError(f"the settings file {f} cannot be read ({why}); fix or delete it") from e
    except (ValueError, RecursionError) as e:
        raise SisessionsError(f"the settings file {f} cannot be read ({e}); fix or delete it") from e
    return data if isinstance(data, dict) else {}


def _update(values: dict) -> None:
    """Set these keys, keeping every other, under the settings lock."""
    folder = private_dir(_file().parent)
    with locked(folder):
        data = load()
        data.update(values)
        atomic_write_text(_file(), json.dumps(data, indent=2) + "\n", private=True)


def saved_side() -> str | None:
    side = load().get("side")
    return side if side in SIDES else None


def save_side(side: str) -> None:
    if side not in SIDES:
        raise UsageError(f"side must be left or right; got {side!r}")
    _update({"side": side, "side_saved": dt.date.today().isoformat()})  # `today` says how old it is


def saved_side_date() -> dt.date | None:
    """The day the side was saved; None when unknown (saved by an earlier version)."""
    try:
        return dt.date.fromisoformat(load().get("side_saved"))
    except (TypeError, ValueError):
        return None


def show_streak() -> bool:
    """Whether `log` (and the companion page) show the streak: on unless the person turned it
    off (`sisessions log --streak off`). The log records every practice either way."""
    return load().get("show_streak", True) is not False


def listen() -> bool:
    """Whether `play` listens for spoken commands when neither --listen nor --no-listen is
    given (saved by `play --listen --remember`, so scheduled plays listen too): off unless on."""
    return load().get("listen", False) is True


def save_value(key: str, value) -> None:
    """Save one more setting (e.g. the programme `today` follows), keeping the others."""
    _update({key: value})
