"""Practice: today's session from the programme, and the log."""
from __future__ import annotations

import click

from sisessions.cli.base import main


@main.command("today")
@click.option("--program", "program", metavar="ID", help="Follow this programme from now on.")
@click.pass_context
def today_cmd(ctx, program):
    """Today's session from your programme, and why (`play today` plays it).

    Example: sisessions today
    """
    from sisessions import app
    from sisessions.practice import today as td

    lib = app.open_library(ctx.obj["scripts"])
    if program:
        p = td.choose(lib, program)
        click.echo(f"From now on, `today` follows the programme '{p.title}' ({p.id}).")
    t, warnings = td.today(lib)
    for w in warnings:
        click.echo(f"sisessions: {w}", err=True)
    title = lib.session(t.session).title
    click.echo(f"Today: {t.session} ({title})")
    click.echo(t.why())


@main.command("log")
@click.option("--pain", type=click.IntRange(0, 10), default=None, metavar="0..10",
              help="Record today's pain (0 none, 10 the worst).")
@click.option("--note", metavar="TEXT", help="With --pain: a few words about it.")
@click.option("--done", metavar="SESSION",
              help="Record a session you did away from this computer (e.g. an MP3 on your phone); `today` counts it.")
@click.option("--days", type=click.IntRange(1, 3650), default=14, show_default=True, help="How many days to show.")
@click.option("--streak", "streak", type=click.Choice(["on", "off"]), default=None,
              help="Show or hide the streak from now on (saved); practice is recorded either way.")
@click.pass_context
def log_cmd(ctx, pain, note, done, days, streak):
    """Your practice: the recent days, the streak of days in a row, and pain entries.

    Example: sisessions log --pain 3 --note "stiff after sitting"
    """
    from sisessions.errors import UsageError
    from sisessions.practice import log

    if note is not None and pain is None:
        raise UsageError("--note goes with --pain (e.g. --pain 3 --note \"stiff\")")
    if pain is not None:
        log.append(log.pain_record(pain, note))
        click.echo(f"Pain {pain}/10 recorded for today.")
    if done is not None:
        from sisessions import app

        rec = app.done_elsewhere(app.open_library(ctx.obj["scripts"]), done)
        click.echo(f"Recorded today's '{rec.session}' ({rec.minutes:.0f} min), done away from this computer.")
    if streak is not None:
        from sisessions.practice import settings

        settings.save_value("show_streak", streak == "on")
        click.echo("The streak is shown in `sisessions log` again." if streak == "on" else
                   "The streak is hidden from now on (`--streak on` shows it); every practice is still recorded.")
    if pain is not None or done is not None or streak is not None:
        return
    records, warnings = log.read()
    for w in warnings:
        click.echo(f"sisessions: {w}", err=True)
    if not records:
        click.echo("Nothing logged yet: every `sisessions play` adds a line, and "
                   "`sisessions log --pain N` records how your back feels.")
        return
    click.echo(f"Last {days} days (* practised):")
    from sisessions.practice import settings

    for line in log.summary(records, days, show_streak=settings.show_streak()):
        click.echo(line)
