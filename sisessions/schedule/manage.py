"""The schedules of both backends together: add one, list them all, remove some."""
from __future__ import annotations

import dataclasses

from sisessions.errors import UsageError
from sisessions.schedule import cron, systemd
from sisessions.schedule.runner import last_run
from sisessions.schedule.spec import Added, Entry, Spec, Via, is_our_log


def add(spec: Spec, dry_run: bool = False) -> Added:
    return (systemd if spec.systemd else cron).add(spec, dry_run)


def entries() -> list[Entry]:
    """Every schedule, crontab entries first, each with how its last run went."""
    found = (cron.entries() if cron.available() else []) + systemd.entries()
    return [dataclasses.replace(e, last=last_run(e.log)) for e in found]


def remove(ids: tuple[str, ...], every: bool = False) -> list[str]:
    """Remove schedules by id (or all of ours), and the log each one wrote; one line for each.

    Every id is checked first: with one unknown id nothing at all is removed.
    """
    found = {e.id: e for e in entries()}
    missing = sorted(set(ids) - set(found))
    if missing:
        raise UsageError(f"no schedule with the id {', '.join(missing)}, so nothing was removed; "
                         "`sisessions schedule list` shows the ids")
    gone = list(found.values()) if every else [found[sid] for sid in dict.fromkeys(ids)]
    by_cron = {e.id for e in gone if e.via == Via.CRON}
    by_systemd = {e.id for e in gone if e.via == Via.SYSTEMD}
    done = []
    if by_cron:
        cron.remove(by_cron)
        done += [f"Removed {e.id} from the crontab." for e in gone if e.id in by_cron]
    if by_systemd:
        done += systemd.remove(by_systemd)
    for e in gone:
        if is_our_log(e.log, e.id):  # the log its own entry named, never a file of the same name elsewhere
            e.log.unlink()
    return done
