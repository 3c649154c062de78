"""Practice: today's session from the programme, and the log."""
from __future__ import annotations

import click

from sisessions.cli.base import SIDE_CHOICE, main

DATE = click.DateTime(formats=["%Y-%m-%d"])


@main.command("today")
@click.option("--program", "program", metavar="ID", help="Follow this programme from now on.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON (SPEC §8).")
@click.option("--side", type=SIDE_CHOICE, help="Your working side today (else today's check, else the saved one).")
@click.pass_context
def today_cmd(ctx, program, as_json, side):
    """Today's session from your programme, its light (green, amber, red) and why.

    The light follows your pain entries (`log --pain N --when after|morning`); the side
    follows today's check (`log --check left|right|same`). `play today` plays it.

    Example: sisessions today --json
    """
    import json

    from sisessions import app
    from sisessions.practice import today as td

    lib = app.open_library(ctx.obj["scripts"])
    if program:
        p = td.choose(lib, program)
        click.echo(f"From now on, `today` follows the programme '{p.title}' ({p.id}).", err=as_json)
    d = app.today_decision(lib, side=side)
    for w in d.warnings:
        click.echo(f"sisessions: {w}", err=True)
    if as_json:
        click.echo(json.dumps(d.as_json(), ensure_ascii=False))
        return
    shorter = f", about {d.minutes:g} minutes" if d.minutes else ""
    click.echo(f"Today: {d.session} ({d.title}){shorter}")
    click.echo(d.reason)


@main.command("log")
@click.option("--pain", type=click.IntRange(0, 10), default=None, metavar="0..10",
              help="Record pain (0 none, 10 the worst).")
@click.option("--when", "when", type=click.Choice(["after", "morning", "other"]), default=None,
              help="With --pain: after a session, on waking (morning), or other (default).")
@click.option("--note", metavar="TEXT", help="With --pain: a few words about it.")
@click.option("--check", "check", type=click.Choice(["left", "right", "same"]), default=None,
              help="Record the self-check: the side that felt deeper, or same (can't tell).")
@click.option("--done", metavar="SESSION",
              help="Record a session you did away from this computer (e.g. an MP3 on your phone); `today` counts it.")
@click.option("--date", "on", type=DATE, default=None, metavar="YYYY-MM-DD",
              help="With --pain, --check or --done: the day it happened (today or before).")
@click.option("--days", type=click.IntRange(1, 3650), default=14, show_default=True, help="How many days to show.")
@click.option("--streak", "streak", type=click.Choice(["on", "off"]), default=None,
              help="Show or hide the streak from now on (saved); practice is recorded either way.")
@click.pass_context
def log_cmd(ctx, pain, when, note, check, done, on, days, streak):
    """Your practice: the recent days, the streak, checks, and pain after sessions and in the morning.

    Example: sisessions log --pain 3 --when morning --note "stiff after sitting"
    """
    from sisessions import app
    from sisessions.errors import UsageError
    from sisessions.practice import log

    if note is not None and pain is None:
        raise UsageError("--note goes with --pain (e.g. --pain 3 --note \"stiff\")")
    if when is not None and pain is None:
        raise UsageError("--when goes with --pain (e.g. --pain 3 --when morning)")
    if on is not None and pain is None and check is None and done is None:
        raise UsageError("--date goes with --pain, --check or --done (e.g. --check left --date 2025-03-01)")
    day = on.date() if on is not None else None
    if day is not None:
        app.past_or_today(day)  # a future date: exit 2 before anything is written
    label = day.isoformat() if day is not None else "today"
    if check is not None:
        app.record_check(check, day)
        click.echo(f"Check recorded for {label}: {check}.")
    if pain is not None:
        app.record_pain(pain, when or "other", day, note)
        what = {"after": "after the session", "morning": "in the morning"}.get(when, "")
        click.echo(f"Pain {pain}/10{' ' + what if what else ''} recorded for {label}.")
    if done is not None:
        rec = app.done_elsewhere(app.open_library(ctx.obj["scripts"]), done, day)
        click.echo(f"Recorded {label}'s '{rec.session}' ({rec.minutes:.0f} min), done away from this computer.")
    if streak is not None:
        from sisessions.practice import settings

        settings.save_value("show_streak", streak == "on")
        click.echo("The streak is shown in `sisessions log` again." if streak == "on" else
                   "The streak is hidden from now on (`--streak on` shows it); every practice is still recorded.")
    if pain is not None or done is not None or streak is not None or check is not None:
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
