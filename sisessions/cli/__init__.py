"""The click command line: parse, call one core function, print. Errors are translated here."""
from __future__ import annotations

import functools
import os
import sys

import click

from sisessions import __version__
from sisessions.errors import ScriptError, SisessionsError

SIDE_CHOICE = click.Choice(["left", "right"])


def _sentence(msg: str) -> str:
    msg = msg.strip()
    msg = msg[:1].upper() + msg[1:]
    return msg if msg.endswith((".", "!", "?")) else msg + "."


class App(click.Group):
    """The one place where errors become a message and an exit code (SPEC §5)."""

    def invoke(self, ctx):
        debug = ctx.params.get("debug") or bool(os.environ.get("SISESSIONS_DEBUG"))
        try:
            return super().invoke(ctx)
        except ScriptError as e:
            for p in e.problems:
                click.echo(str(p), err=True)
            ctx.exit(e.exit_code)
        except SisessionsError as e:
            if debug and e.__cause__ is not None:
                raise
            click.echo(f"sisessions: {_sentence(str(e))}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("sisessions: Stopped.", err=True)
            ctx.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `sisessions show daily | head`
            sys.stderr.close()
            ctx.exit(1)
        except OSError as e:
            if debug:
                raise
            where = f" ({e.filename})" if e.filename else ""
            click.echo(f"sisessions: {_sentence((e.strerror or str(e)) + where)}", err=True)
            ctx.exit(1)
        except Exception as e:
            if debug:
                raise
            click.echo(f"sisessions: Something unexpected went wrong ({type(e).__name__}: {e}); "
                       "run again with --debug for details.", err=True)
            ctx.exit(1)


@click.group(cls=App, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scripts", "scripts", multiple=True, metavar="DIR",
              help="A folder of your own scripts (patterns/, sessions/); repeatable. Your ids override built-in ones.")
@click.option("--cache-dir", metavar="DIR", help="Where spoken clips are cached (or SISESSIONS_CACHE).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.version_option(__version__, prog_name="sisessions")
@click.pass_context
def main(ctx, scripts, cache_dir, debug):
    """Slow, spoken, hands-free sessions of somatic movement patterns.

    Lie down, listen, move slowly. This is movement practice, not medical advice.

    Example: sisessions export towel -o ~/towel.mp3
    """
    ctx.obj = {"scripts": scripts, "cache_dir": cache_dir, "debug": debug}


def session_options(f):
    """The options that shape a session (SPEC §3), shared by show, synth, play and export."""

    @click.option("--side", type=SIDE_CHOICE, help="Your working side (else the saved one).")
    @click.option("--pace", type=click.FloatRange(0.5, 3.0), default=1.0, show_default=True,
                  help="Multiply pauses, breaths and rests.")
    @click.option("--rate", type=click.IntRange(60, 200), default=None,
                  help="Speech rate in words per minute (default 110).")
    @click.option("--engine", metavar="NAME", help="Voice engine (`sisessions engines` lists them).")
    @click.option("--voice", metavar="NAME", help="A voice of the engine.")
    @click.option("--skip", multiple=True, metavar="PATTERN", help="Leave a pattern out today; repeatable.")
    @click.option("--minutes", type=click.FloatRange(1, 180), default=None,
                  help="Fit the session to about N minutes.")
    @functools.wraps(f)
    def wrapper(*args, side, pace, rate, engine, voice, skip, minutes, **kw):
        from sisessions.app import Choices
        from sisessions.voice.engines.base import DEFAULT_RATE

        kw["choices"] = Choices(side=side, pace=pace, rate=rate or DEFAULT_RATE, engine=engine,
                                voice=voice, skip=tuple(skip), minutes=minutes)
        return f(*args, **kw)

    return wrapper


def _prepare(ctx, session, choices):
    from sisessions import app

    return app.prepare(app.open_library(ctx.obj["scripts"]), session, choices)


def _progress(label: str, n: int):
    """A progress bar on stderr while clips are synthesized (nothing when all are cached)."""
    bar = click.progressbar(length=n, label=label, file=sys.stderr, show_pos=True)
    return bar


def _plan(ctx, prepared, speech, label="Preparing the voice"):
    from sisessions import app

    missing = speech.missing(app.texts(prepared))
    if not missing or not sys.stderr.isatty():  # a bar only for a person watching
        return app.plan(prepared, speech)
    with _progress(label, len(missing)) as bar:
        return app.plan(prepared, speech, lambda _t: bar.update(1))


@main.command("list")
@click.pass_context
def list_cmd(ctx):
    """The sessions and patterns, with stage and planned length.

    Example: sisessions list
    """
    from sisessions import app
    from sisessions.cli.report import listing

    for line in listing(app.open_library(ctx.obj["scripts"])):
        click.echo(line)


@main.command()
@click.argument("session")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON (SPEC §4).")
@session_options
@click.pass_context
def show(ctx, session, as_json, choices):
    """The planned timeline: every cue with its start, length and text.

    Example: sisessions show towel --json
    """
    from sisessions import app
    from sisessions.cli.report import table

    prepared = _prepare(ctx, session, choices)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        tl = _plan(ctx, prepared, speech)
    if as_json:
        click.echo(tl.to_json())
    else:
        for line in table(tl):
            click.echo(line)


@main.command()
@click.argument("paths", nargs=-1)
@click.pass_context
def validate(ctx, paths):
    """Check script files or libraries (default: all) and print every problem.

    Example: sisessions validate my-scripts/
    """
    from sisessions import app
    from sisessions.plan.validate import validate as check

    count, problems = check(app.open_library(ctx.obj["scripts"]), paths)
    if problems:
        raise ScriptError(problems)
    click.echo(f"{count} file{'s' if count != 1 else ''} checked: all valid.")


@main.command()
@click.argument("session")
@session_options
@click.pass_context
def synth(ctx, session, choices):
    """Fill the audio cache so that playing and exporting start at once.

    Example: sisessions synth daily --side left
    """
    from sisessions import app

    prepared = _prepare(ctx, session, choices)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        todo = speech.missing(app.texts(prepared))
        tl = _plan(ctx, prepared, speech, "Synthesizing")
    click.echo(f"{len(todo)} new clip{'s' if len(todo) != 1 else ''} made; "
               f"'{tl.title}' lasts {app.duration_text(tl.seconds)} and is ready.")


@main.command()
@click.argument("session")
@click.option("-o", "--output", metavar="FILE|DIR/", help="FILE.mp3, FILE.wav or a folder ending in / (default: ./SESSION.mp3).")
@click.option("--bitrate", type=click.IntRange(32, 320), default=64, show_default=True, help="MP3 bitrate in kbps.")
@click.option("--split", is_flag=True, help="One MP3 per item in a folder, with an .m3u8 playlist.")
@click.option("--to", "to", metavar="DIR", help="Write DIR/YYYY-MM-DD-SESSION.mp3 (a folder your phone syncs).")
@click.option("--keep", type=click.IntRange(1, 10000), default=None, metavar="N",
              help="With --to: keep the newest N exports of this session; only files it wrote are removed.")
@click.option("--no-sidecars", "no_sidecars", is_flag=True, help="No .lrc and .vtt transcript files beside the MP3.")
@session_options
@click.pass_context
def export(ctx, session, output, bitrate, split, to, keep, no_sidecars, choices):
    """Write the session to an MP3 (default) or WAV file.

    MP3s carry tags, a cover, chapters and the transcript; .lrc and .vtt files go beside them.

    Example: sisessions export towel -o ~/Music/towel.mp3
    """
    from sisessions import app
    from sisessions.output import export as phone

    prepared = _prepare(ctx, session, choices)
    req = phone.Request(output, bitrate, phone.album_for(prepared.session), split, to, keep, not no_sidecars)
    phone.check(req)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        tl = _plan(ctx, prepared, speech)
        if split or to:
            done = phone.export(tl, speech, req)
        else:
            done = phone.Written(app.export(tl, speech, output, bitrate, req.album, req.sidecars), ())
    click.echo(f"Wrote {done.path} ({app.duration_text(tl.seconds)}).")
    for p in done.removed:
        click.echo(f"Removed the older export {p}.")


@main.group()
def side():
    """Your saved working side (the S-I joint that your self-check found deeper).

    Example: sisessions side set left
    """


@side.command("show")
def side_show():
    """Print the saved working side.

    Example: sisessions side show
    """
    from sisessions.practice import settings

    s = settings.saved_side()
    click.echo(s if s else "No working side saved yet: `sisessions side set left` (or right).")


@side.command("set")
@click.argument("value", type=SIDE_CHOICE)
def side_set(value):
    """Save your working side for every session.

    Example: sisessions side set right
    """
    from sisessions.practice import settings

    settings.save_side(value)
    click.echo(f"Working side saved: {value}.")


@main.group()
def cache():
    """The audio cache of spoken clips.

    Example: sisessions cache info
    """


@cache.command("info")
@click.pass_context
def cache_info(ctx):
    """Place, size and number of cached clips.

    Example: sisessions cache info
    """
    from sisessions import paths
    from sisessions.voice.cache import Cache

    c = Cache(paths.cache_dir(ctx.obj["cache_dir"]))
    n, size = c.info()
    click.echo(f"place: {c.root}\nclips: {n}\nsize: {size / 1e6:.1f} MB")


@cache.command("clear")
@click.pass_context
def cache_clear(ctx):
    """Remove every cached clip (they are made again when needed).

    Example: sisessions cache clear
    """
    from sisessions import paths
    from sisessions.voice.cache import Cache

    c = Cache(paths.cache_dir(ctx.obj["cache_dir"]))
    n = c.clear()
    click.echo(f"Removed {n} clip{'s' if n != 1 else ''} from {c.root}.")


@main.command()
@click.option("--voices", is_flag=True, help="Also list every voice of each installed engine.")
def engines(voices):
    """The voice engines, whether each is installed, and its voices.

    Example: sisessions engines --voices
    """
    from sisessions.cli.report import engine_lines

    for line in engine_lines(voices):
        click.echo(line)


# ---------------------------------------------------------------- on the phone: feed and serve (issue 6)


@main.command()
@click.argument("folder", metavar="DIR")
@click.option("--base-url", required=True, metavar="URL",
              help="The address DIR is served at, as the phone sees it (e.g. http://192.168.1.20:8765/).")
@click.option("--title", default="sisessions", show_default=True, help="The podcast's name in the app.")
def feed(folder, base_url, title):
    """Write DIR/feed.xml: a private podcast feed of the MP3s in DIR.

    A podcast app that subscribes to it gets every new session you export with --to DIR.

    Example: sisessions feed ~/sisessions-phone --base-url http://192.168.1.20:8765/
    """
    from pathlib import Path

    from sisessions.phone.feed import write_feed

    done = write_feed(Path(folder), base_url, title)
    for p in done.skipped:
        click.echo(f"Left out {p}: it cannot be read as an MP3.", err=True)
    click.echo(f"Wrote {done.path} ({done.episodes} episode{'s' if done.episodes != 1 else ''}); "
               f"subscribe to {done.url}")


@main.command()
@click.argument("folder", metavar="DIR")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; 0.0.0.0 lets your phone (and everyone on your network) in.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="The port.")
def serve(folder, host, port):
    """Serve DIR read-only over HTTP (with seeking), e.g. for a podcast app. Ctrl-C stops.

    Example: sisessions serve ~/sisessions-phone --host 0.0.0.0
    """
    from pathlib import Path

    from sisessions.phone.serve import run

    run(Path(folder), host, port, say=lambda m: click.echo(m),
        log=lambda m: click.echo(m, err=True))


# ---------------------------------------------------------------- every morning: schedule, today


@main.group()
def schedule():
    """Daily runs from cron: play a session, or export it for your phone, every morning.

    Example: sisessions schedule add --at 07:30 --days mon-fri today --play
    """


@schedule.command("add")
@click.argument("session")
@click.option("--at", "at", required=True, metavar="HH:MM", help="The time of day (24-hour clock).")
@click.option("--days", default="daily", show_default=True, metavar="DAYS",
              help="Which days: mon-fri, sat,sun, mon,wed,fri, weekdays, weekends or daily.")
@click.option("--play", "play", is_flag=True, help="Play it on this computer (the default).")
@click.option("--to", "to", metavar="DIR", help="Export it into DIR instead (YYYY-MM-DD-SESSION.mp3, for a phone).")
@click.option("--keep", type=click.IntRange(1, 10000), default=None, metavar="N",
              help="With --to: keep only the newest N files it wrote there.")
@click.option("--systemd", is_flag=True, help="Write a systemd user timer instead of a crontab entry.")
@click.option("--dry-run", is_flag=True, help="Print the entry without writing it or making any audio.")
@session_options
@click.pass_context
def schedule_add(ctx, session, at, days, play, to, keep, systemd, dry_run, choices):
    """Run SESSION every morning (`today` follows your programme day by day).

    The session's speech is made now, so the morning run starts at once. Adding the same
    schedule again changes nothing; with other options it updates it.

    Example: sisessions schedule add --at 07:30 --days mon-fri today --play --side left
    """
    from sisessions import app
    from sisessions.errors import UsageError
    from sisessions.schedule import core as sch
    from sisessions.voice.engines.base import DEFAULT_RATE

    if play and to:
        raise UsageError("give either --play or --to DIR, not both")
    sch.check_platform(systemd)
    spec = sch.make_spec(at, days, session, to, sch.session_options(choices, DEFAULT_RATE),
                         ctx.obj["scripts"], ctx.obj["cache_dir"], systemd, keep)
    lib = app.open_library(ctx.obj["scripts"])
    prepared = [app.prepare(lib, name, choices) for name in sch.sessions_to_ready(lib, session)]
    if not dry_run:
        with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
            for p in prepared:
                tl = _plan(ctx, p, speech, f"Preparing {p.session.id}")
                click.echo(f"Ready: {tl.session} ({app.duration_text(tl.seconds)}).")
    done = sch.add(spec, dry_run)
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
    from sisessions.schedule import core as sch

    sch.check_platform(False)
    rows = sch.entries()
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
    from sisessions.schedule import core as sch

    if not ids and not every:
        raise UsageError("give the id of a schedule (`sisessions schedule list` shows them), or --all")
    sch.check_platform(False)
    done = sch.remove(tuple(ids), every)
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
    from sisessions.schedule import core as sch

    args = list(args)
    ctx.exit(sch.run(sid, args[1:] if args[:1] == ["--"] else args))


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


# ---------------------------------------------------------------- playing and the practice log (issue 5)


@main.command()
@click.argument("session")
@click.option("--player", type=click.Choice(["auto", "miniaudio", "simpleaudio"]), default="auto",
              show_default=True, help="The audio backend; auto takes the first that works.")
@click.option("--delay", type=click.FloatRange(0, 3600), default=0, metavar="SECONDS",
              help="Silence before the start, to get down onto the floor.")
@click.option("--announce", is_flag=True, help="With --delay: say \"Starting in N seconds.\" at once.")
@click.option("--from", "start_at", metavar="PATTERN", help="Start at this pattern (e.g. after a stop).")
@session_options
@click.pass_context
def play(ctx, session, player, delay, announce, start_at, choices):
    """Play the session on this computer's audio output, hands-free.

    Keys: space pause/resume, n next pattern, b back to the pattern's start, r repeat the
    last line, q quit. Every play is written to the practice log (`sisessions log`).

    Example: sisessions play towel --side left --delay 20 --announce
    """
    from sisessions import app
    from sisessions.play.session import PlayOptions
    from sisessions.play.session import play as run_play

    prepared = _prepare(ctx, session, choices)
    opts = PlayOptions(player=player, delay=delay, announce=announce, start_at=start_at)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        done = run_play(prepared, speech, opts, session, debug=ctx.obj["debug"])
    click.echo(done.message)


@main.command("log")
@click.option("--pain", type=click.IntRange(0, 10), default=None, metavar="0..10",
              help="Record today's pain (0 none, 10 the worst).")
@click.option("--note", metavar="TEXT", help="With --pain: a few words about it.")
@click.option("--done", metavar="SESSION",
              help="Record a session you did away from this computer (e.g. an MP3 on your phone); `today` counts it.")
@click.option("--days", type=click.IntRange(1, 3650), default=14, show_default=True, help="How many days to show.")
@click.pass_context
def log_cmd(ctx, pain, note, done, days):
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

        rec = log.done_elsewhere(app.open_library(ctx.obj["scripts"]), done)
        log.append(rec)
        click.echo(f"Recorded today's '{rec['session']}' ({rec['minutes']:.0f} min), done away from this computer.")
    if pain is not None or done is not None:
        return
    records, warnings = log.read()
    for w in warnings:
        click.echo(f"sisessions: {w}", err=True)
    if not records:
        click.echo("Nothing logged yet: every `sisessions play` adds a line, and "
                   "`sisessions log --pain N` records how your back feels.")
        return
    click.echo(f"Last {days} days (* practised):")
    for line in log.summary(records, days):
        click.echo(line)
