"""The user's saved settings (the working side) in the user config folder."""
from __future__ import annotations

import datetime as dt
import json

from sisessions import paths
from sisessions.errors import SisessionsError, UsageError
from sisessions.fileio import atomic_write_text
from sisessions.script.model import SIDES


def _file():
    return paths.config_dir() / "settings.json"


def load() -> dict:
    f = _file()
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise SisessionsError(f"the settings file {f} cannot be read ({e}); fix or delete it") from e
    return data if isinstance(data, dict) else {}


def saved_side() -> str | None:
    side = load().get("side")
    return side if side in SIDES else None


def save_side(side: str) -> None:
    if side not in SIDES:
        raise UsageError(f"side must be left or right; got {side!r}")
    data = load()
    data["side"] = side
    data["side_saved"] = dt.date.today().isoformat()  # `today` says how old the saved side is
    atomic_write_text(_file(), json.dumps(data, indent=2) + "\n")


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
    data = load()
    data[key] = value
    atomic_write_text(_file(), json.dumps(data, indent=2) + "\n")
