"""Every morning: schedule add, list, remove, and the runner cron calls."""
from __future__ import annotations

import click

from sisessions.cli.base import main, plan_with_bar, session_options


@main.group()
def schedule():
    """Daily runs from cron: play a session, or export it for your phone, every morning.

    Example: sisessions schedule add --at 07:30 --days mon-fri today --play
    """


@schedule.command("add")
@click.argument("session")
@click.option("--at", "at", required=True, metavar="HH:MM", help="The time of day (24-hour clock).")
@click.option("--days", default="daily", show_default=True, metavar="DAYS",
              help="Which days: mon-fri, sat,sun, mon,wed,fri, weekdays, weekends, daily, "
                   "or cron's numbers (0 and 7 are Sunday; 0-7 is every day).")
@click.option("--play", "play", is_flag=True, help="Play it on this computer (the default).")
@click.option("--to", "to", metavar="DIR", help="Export it into DIR instead (YYYY-MM-DD-SESSION.mp3, for a phone).")
@click.option("--keep", type=click.IntRange(1, 10000), default=None, metavar="N",
              help="With --to: keep only the newest N files it wrote there.")
@click.option("--systemd", is_flag=True, help="Write a systemd user timer instead of a crontab entry.")
@click.option("--dry-run", is_flag=True, help="Print the entry without writing it or making any audio.")
@click.option("--ics", "ics", metavar="FILE",
              help="Write a reminder for your phone's own calendar into FILE (iCalendar) instead; the crontab is left alone.")
@session_options
@click.pass_context
def schedule_add(ctx, session, at, days, play, to, keep, systemd, dry_run, ics, choices):
    """Run SESSION every morning (`today` follows your programme day by day).

    The session's speech is made now, so the morning run starts at once. Adding the same
    schedule again changes nothing; with other options it updates it.

    Example: sisessions schedule add --at 07:30 --days mon-fri today --play --side left
    """
    from sisessions import app
    from sisessions.errors import UsageError
    from sisessions.schedule import manage
    from sisessions.schedule import spec as sch

    if play and to:
        raise UsageError("give either --play or --to DIR, not both")
    if ics:
        from sisessions.schedule.reminders import write_ics

        for line in write_ics(ics, at, days, session, ctx.obj["scripts"], dry_run):
            click.echo(line)
        return
    sch.check_platform(systemd)
    spec = sch.make_spec(at, days, session, to, choices.args(),
                         ctx.obj["scripts"], ctx.obj["cache_dir"], systemd, keep)
    lib = app.open_library(ctx.obj["scripts"])
    prepared = [app.prepare(lib, name, choices) for name in sch.sessions_to_ready(lib, session)]
    if not dry_run:
        with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
            for p in prepared:
                tl = plan_with_bar(ctx, p, speech, f"Preparing {p.session.id}")
                click.echo(f"Ready: {tl.session} ({app.duration_text(tl.seconds)}).")
    done = manage.add(spec, dry_run)
    head = {"added": "Scheduled", "updated": "Updated", "unchanged": "Already scheduled, unchanged:",
            "dry-run": "Would schedule (nothing written):"}[done.status]
    click.echo(f"{head} {spec.id}: {spec.what} {spec.when}{' (systemd)' if systemd else ''}.")
    click.echo(done.text)
    if not dry_run:
        click.echo(f"Log: {sch.log_path(spec.id)}")
    for note in done.notes:
        click.echo(note)


@schedule.command("list")
def schedule_list():
    """The schedules: id, time, days, what each does, and how its last run went.

    Example: sisessions schedule list
    """
    from sisessions.schedule import manage
    from sisessions.schedule import spec as sch

    sch.check_platform(False)
    rows = manage.entries()
    if not rows:
        click.echo("No schedules yet: `sisessions schedule add --at 07:30 today --play` adds one.")
        return
    width = max(len(e.what) for e in rows)
    for e in rows:
        via = " (systemd)" if e.via == "systemd" else ""
        click.echo(f"{e.id}  {e.at}  {e.days:<8}  {e.what:<{width}}  last run: {e.last}{via}")


@schedule.command("remove")
@click.argument("ids", nargs=-1, metavar="ID...")
@click.option("--all", "every", is_flag=True, help="Remove every schedule of sisessions.")
def schedule_remove(ids, every):
    """Remove schedules by id; every other crontab line stays exactly as it was.

    Example: sisessions schedule remove 3f9a1c
    """
    from sisessions.errors import UsageError
    from sisessions.schedule import manage
    from sisessions.schedule import spec as sch

    if not ids and not every:
        raise UsageError("give the id of a schedule (`sisessions schedule list` shows them), or --all")
    sch.check_platform(False)
    done = manage.remove(tuple(ids), every)
    for line in done or ["No schedules to remove."]:
        click.echo(line)


@schedule.command("run", hidden=True,
                  context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("sid", metavar="ID")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def schedule_run(ctx, sid, args):
    """What a schedule's entry runs: `sisessions ARGS` under the lock, logged.

    Example: sisessions schedule run 3f9a1c -- play today
    """
    from sisessions.schedule import runner

    args = list(args)
    ctx.exit(runner.run(sid, args[1:] if args[:1] == ["--"] else args))
