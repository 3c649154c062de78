"""Where the built-in scripts, the audio cache, settings, the log and schedule logs live."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "sisessions"
_PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The project folder when running from a git checkout (editable or plain source), else None."""
    root = _PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "scripts" / "patterns").is_dir():
        return root
    return None


def builtin_scripts() -> Path:
    """The built-in library: `scripts/` in a checkout, the copy inside the wheel otherwise."""
    root = checkout_root()
    if root is not None:
        return root / "scripts"
    return _PACKAGE_DIR / "scripts"


def library_dirs(extra: tuple[str, ...] | list[str] = ()) -> list[Path]:
    """Libraries in priority order: --scripts (first wins), SISESSIONS_SCRIPTS, built-in last."""
    dirs = [Path(d).expanduser() for d in extra]
    env = os.environ.get("SISESSIONS_SCRIPTS", "")
    dirs += [Path(d).expanduser() for d in env.split(os.pathsep) if d.strip()]
    dirs.append(builtin_scripts())
    return dirs


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """--cache-dir, then SISESSIONS_CACHE, then audio_cache/ in a checkout (when this user may
    write to it), then the user cache."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("SISESSIONS_CACHE")
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    # a checkout's cache only for a user who may write to it: one installed by root serves
    # every other user from their own cache folder instead of failing on the first clip
    if root is not None and (root / "audio_cache").is_dir() and os.access(root / "audio_cache", os.W_OK | os.X_OK):
        return root / "audio_cache"
    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / "audio"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP, appauthor=False))
