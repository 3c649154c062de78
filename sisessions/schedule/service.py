"""The companion as a service (SPEC §9): a systemd user unit that starts it with the session,
or with the machine when lingering is on."""
from __future__ import annotations

import os
from pathlib import Path

from sisessions.errors import SisessionsError
from sisessions.fileio import atomic_write_text
from sisessions.schedule.spec import sisessions_command
from sisessions.schedule.systemd import _unit_quote, systemd_dir

UNIT = "sisessions-companion.service"
MARK = "# Written by `sisessions companion --install`; `sisessions companion --uninstall` removes it."


def unit_file() -> Path:
    return systemd_dir() / UNIT


def unit_text(args: list[str]) -> str:
    """The unit that runs `sisessions ARGS` (global options, then `companion` and its options)."""
    path = os.pathsep.join(dict.fromkeys([str(Path(sisessions_command()[0]).parent), "/usr/local/bin", "/usr/bin",
                                          "/bin"]))
    env = [("PATH", path)] + [(v, os.environ[v]) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                                           "XDG_CACHE_HOME", "SISESSIONS_SCRIPTS", "SISESSIONS_CACHE")
                              if os.environ.get(v)]
    return (f"{MARK}\n[Unit]\nDescription=sisessions companion (the phone page)\n"
            "After=network-online.target\nWants=network-online.target\n\n"
            f"[Service]\nEnvironment={' '.join(_unit_quote(f'{k}={v}') for k, v in env)}\n"
            f"ExecStart={' '.join(_unit_quote(a) for a in [*sisessions_command(), *args])}\n"
            "Restart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=default.target\n")


def is_ours(f: Path) -> bool:
    try:
        return f.is_file() and not f.is_symlink() and f.read_text(encoding="utf-8").startswith(MARK + "\n")
    except (OSError, UnicodeDecodeError):
        return False


def companion_args(scripts: tuple[str, ...], cache_dir: str | None, host: str, port: int, https: bool,
                   cert: str | None, key: str | None) -> list[str]:
    """The command line the unit runs: every path absolute (a service starts in another folder)."""
    out: list[str] = []
    for d in scripts:
        out += ["--scripts", str(Path(d).expanduser().resolve())]
    if cache_dir:
        out += ["--cache-dir", str(Path(cache_dir).expanduser().resolve())]
    out += ["companion", "--host", host, "--port", str(port)]
    if https:
        out.append("--https")
    if cert and key:
        out += ["--cert", str(Path(cert).expanduser().resolve()), "--key", str(Path(key).expanduser().resolve())]
    return out


def install(args: list[str]) -> tuple[Path, list[str]]:
    """Write the unit (over an earlier one of ours only); the path and what to run next."""
    f = unit_file()
    if f.exists() and not is_ours(f):
        raise SisessionsError(f"{f} exists and was not written by sisessions; it is left as it is")
    atomic_write_text(f, unit_text(args))
    user = os.environ.get("USER") or "$USER"
    return f, [f"Start it now and at every login: `systemctl --user daemon-reload && systemctl --user enable --now {UNIT}`.",
               f"For mornings without a login (the computer on, nobody logged in): `loginctl enable-linger {user}`."]


def uninstall() -> list[str]:
    """Remove the unit this program wrote (and the link `enable` made), nothing else."""
    f = unit_file()
    if not f.exists():
        return [f"No companion service to remove ({f} does not exist)."]
    if not is_ours(f):
        raise SisessionsError(f"{f} was not written by sisessions; it is left as it is")
    link = systemd_dir() / "default.target.wants" / UNIT
    if link.is_symlink() and os.readlink(link) in (str(f), UNIT):
        link.unlink()
    f.unlink()
    return [f"Removed {f}. To stop it now: `systemctl --user stop {UNIT} && systemctl --user daemon-reload`."]
