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
        from sisessions.core import Choices
        from sisessions.engines.base import DEFAULT_RATE

        kw["choices"] = Choices(side=side, pace=pace, rate=rate or DEFAULT_RATE, engine=engine,
                                voice=voice, skip=tuple(skip), minutes=minutes)
        return f(*args, **kw)

    return wrapper


def _prepare(ctx, session, choices):
    from sisessions import core

    return core.prepare(core.open_library(ctx.obj["scripts"]), session, choices)


def _progress(label: str, n: int):
    """A progress bar on stderr while clips are synthesized (nothing when all are cached)."""
    bar = click.progressbar(length=n, label=label, file=sys.stderr, show_pos=True)
    return bar


def _plan(ctx, prepared, speech, label="Preparing the voice"):
    from sisessions import core

    missing = speech.missing(core.texts(prepared))
    if not missing or not sys.stderr.isatty():  # a bar only for a person watching
        return core.plan(prepared, speech)
    with _progress(label, len(missing)) as bar:
        return core.plan(prepared, speech, lambda _t: bar.update(1))


@main.command("list")
@click.pass_context
def list_cmd(ctx):
    """The sessions and patterns, with stage and planned length.

    Example: sisessions list
    """
    from sisessions import core
    from sisessions.report import listing

    for line in listing(core.open_library(ctx.obj["scripts"])):
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
    from sisessions import core
    from sisessions.report import table

    prepared = _prepare(ctx, session, choices)
    with core.speech_session(choices, ctx.obj["cache_dir"]) as speech:
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
    from sisessions import core

    lib = core.open_library(ctx.obj["scripts"])
    count, problems = lib.validate(paths)
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
    from sisessions import core

    prepared = _prepare(ctx, session, choices)
    with core.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        todo = speech.missing(core.texts(prepared))
        tl = _plan(ctx, prepared, speech, "Synthesizing")
    click.echo(f"{len(todo)} new clip{'s' if len(todo) != 1 else ''} made; "
               f"'{tl.title}' lasts {core.duration_text(tl.seconds)} and is ready.")


@main.command()
@click.argument("session")
@click.option("-o", "--output", metavar="FILE|DIR/", help="FILE.mp3, FILE.wav or a folder ending in / (default: ./SESSION.mp3).")
@click.option("--bitrate", type=click.IntRange(32, 320), default=64, show_default=True, help="MP3 bitrate in kbps.")
@session_options
@click.pass_context
def export(ctx, session, output, bitrate, choices):
    """Write the session to an MP3 (default) or WAV file.

    Example: sisessions export towel -o ~/Music/towel.mp3
    """
    from sisessions import core

    prepared = _prepare(ctx, session, choices)
    with core.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        tl = _plan(ctx, prepared, speech)
        target = core.export(tl, speech, output, bitrate)
    click.echo(f"Wrote {target} ({core.duration_text(tl.seconds)}).")


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
    from sisessions import settings

    s = settings.saved_side()
    click.echo(s if s else "No working side saved yet: `sisessions side set left` (or right).")


@side.command("set")
@click.argument("value", type=SIDE_CHOICE)
def side_set(value):
    """Save your working side for every session.

    Example: sisessions side set right
    """
    from sisessions import settings

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
    from sisessions.cache import Cache

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
    from sisessions.cache import Cache

    c = Cache(paths.cache_dir(ctx.obj["cache_dir"]))
    n = c.clear()
    click.echo(f"Removed {n} clip{'s' if n != 1 else ''} from {c.root}.")


@main.command()
@click.option("--voices", is_flag=True, help="Also list every voice of each installed engine.")
def engines(voices):
    """The voice engines, whether each is installed, and its voices.

    Example: sisessions engines --voices
    """
    from sisessions.report import engine_lines

    for line in engine_lines(voices):
        click.echo(line)
