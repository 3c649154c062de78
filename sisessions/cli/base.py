"""The command group, its one error translation point (SPEC §5) and the options commands share."""
from __future__ import annotations

import contextlib
import functools
import math
import os
import sys

import click

from sisessions import __version__
from sisessions.choices import SIDES, Choices, Kind, flag
from sisessions.errors import ScriptError, SisessionsError, sentence
from sisessions.signals import stop_on_signals

SIDE_CHOICE = click.Choice(list(SIDES))


_sentence = sentence


def _closed_streams_to_null() -> None:
    """`play >&-`: Python leaves sys.stdout None when fd 1 was closed; what would have been
    printed goes nowhere instead of ending the command (a cron line may close it)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the run


class App(click.Group):
    """The one place where errors become a message and an exit code (SPEC §5)."""

    def invoke(self, ctx):
        debug = ctx.params.get("debug") or bool(os.environ.get("SISESSIONS_DEBUG"))
        _closed_streams_to_null()
        try:
            with stop_on_signals():
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
            with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
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
    Where to begin: `sisessions play check`, then `sisessions play today`.

    Example: sisessions export towel -o ~/towel.mp3
    """
    ctx.obj = {"scripts": scripts, "cache_dir": cache_dir, "debug": debug}


def finite(ctx, param, value):
    """A click callback: NaN and infinity pass FloatRange's checks (every comparison with NaN
    is false) and then break planning; they are never valid numbers (SPEC §5)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number (NaN and infinity are not accepted)")
    return value


def choice_options(cls):
    """A decorator adding an option for every field of `cls` (choices.Choices, SPEC §3), as it
    defines them, and giving the command `choices`, an instance of `cls`."""

    def decorate(f):
        names = [fld.name for fld, _ in cls.options()]

        @functools.wraps(f)
        def wrapper(*args, **kw):
            given = {n: kw.pop(n) for n in names}
            kw["choices"] = cls(**{n: v for n, v in given.items() if v not in (None, ())})
            return f(*args, **kw)

        for fld, opt in reversed(cls.options()):  # the last one added is listed first
            wrapper = click.option(flag(fld), fld.name, **_click_kwargs(fld, opt))(wrapper)
        return wrapper

    return decorate


def _click_kwargs(fld, opt) -> dict:
    kw: dict = {"help": opt.help, "metavar": opt.metavar}
    if opt.kind == Kind.SIDE:
        kw["type"] = SIDE_CHOICE
    elif opt.kind == Kind.NUMBER:
        kw.update(type=click.FloatRange(opt.low, opt.high), callback=finite)
    elif opt.kind == Kind.WHOLE:
        kw["type"] = click.IntRange(opt.low, opt.high)
    elif opt.kind == Kind.IDS:
        kw["multiple"] = True
    if opt.kind in (Kind.NUMBER, Kind.WHOLE) and fld.default is not None:
        kw.update(default=fld.default, show_default=True)
    return kw


def session_options(f):
    """The options that shape a session (SPEC §3), shared by show, synth, play, export and
    schedule add."""
    return choice_options(Choices)(f)


def prepare_session(ctx, session, choices):
    from sisessions import app
    from sisessions.schedule.runner import UNATTENDED

    unattended = os.environ.get(UNATTENDED) == "1"  # a scheduled run: no side known is both sides
    prepared = app.prepare(app.open_library(ctx.obj["scripts"]), session, choices, unattended=unattended)
    if prepared.left_out:  # --minutes below what scaling reaches: say what was left out
        click.echo(f"sisessions: {left_out_line(prepared.left_out)}", err=True)
    return prepared


def left_out_line(titles) -> str:
    return f"Left out to fit the time: {', '.join(titles)}."


def progress_bar(label: str, n: int):
    """A progress bar on stderr while clips are synthesized (nothing when all are cached)."""
    bar = click.progressbar(length=n, label=label, file=sys.stderr, show_pos=True)
    return bar


def plan_with_bar(ctx, prepared, speech, label="Preparing the voice"):
    from sisessions import app

    missing = speech.missing(app.texts(prepared))
    if not missing or not sys.stderr.isatty():  # a bar only for a person watching
        return app.plan(prepared, speech)
    with progress_bar(label, len(missing)) as bar:
        return app.plan(prepared, speech, lambda _t: bar.update(1))
