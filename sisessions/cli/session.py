"""The commands that make a session: list, show, validate, synth, export, play."""
from __future__ import annotations

import click

from sisessions.cli.base import finite, left_out_line, main, plan_with_bar, prepare_session, session_options
from sisessions.errors import ScriptError


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

    prepared = prepare_session(ctx, session, choices)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        tl = plan_with_bar(ctx, prepared, speech)
    if as_json:
        click.echo(tl.to_json())
    else:
        for line in table(tl):
            click.echo(line)
        if prepared.left_out:
            click.echo(left_out_line(prepared.left_out))


@main.command()
@click.argument("paths", nargs=-1)
@click.pass_context
def validate(ctx, paths):
    """Check script files or libraries (default: all) and print every problem.

    Example: sisessions validate my-scripts/
    """
    from sisessions import app
    from sisessions.plan.validate import validate as check

    warnings: list = []  # the rhythm as written (SPEC §2.2): said, but the files stay valid
    count, problems = check(app.open_library(ctx.obj["scripts"]), paths, warnings)
    for w in warnings:
        click.echo(str(w), err=True)
    if problems:
        raise ScriptError(problems)
    note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
    click.echo(f"{count} file{'s' if count != 1 else ''} checked: all valid{note}.")


@main.command()
@click.argument("session")
@session_options
@click.pass_context
def synth(ctx, session, choices):
    """Fill the audio cache so that playing and exporting start at once.

    Example: sisessions synth daily --side left
    """
    from sisessions import app

    prepared = prepare_session(ctx, session, choices)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        todo = speech.missing(app.texts(prepared))
        tl = plan_with_bar(ctx, prepared, speech, "Synthesizing")
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

    prepared = prepare_session(ctx, session, choices)
    req = app.export_request(prepared, output=output, bitrate=bitrate, split=split, to=to, keep=keep,
                             sidecars=not no_sidecars)
    with app.speech_session(choices, ctx.obj["cache_dir"]) as speech:
        tl = plan_with_bar(ctx, prepared, speech)
        done = app.export(tl, speech, req)
    click.echo(f"Wrote {done.path} ({app.duration_text(tl.seconds)}).")
    for p in done.removed:
        click.echo(f"Removed the older export {p}.")


@main.command()
@click.argument("session")
@click.option("--player", type=click.Choice(["auto", "miniaudio", "simpleaudio"]), default="auto",
              show_default=True, help="The audio backend; auto takes the first that works.")
@click.option("--delay", type=click.FloatRange(0, 3600), default=0, metavar="SECONDS", callback=finite,
              help="Silence before the start, to get down onto the floor.")
@click.option("--announce", is_flag=True, help="With --delay: say \"Starting in N seconds.\" at once.")
@click.option("--from", "start_at", metavar="PATTERN", help="Start at this pattern (e.g. after a stop).")
@click.option("--listen/--no-listen", default=None,
              help="Spoken commands from the microphone in the silences: pause, continue, next, back, "
                   "repeat, stop (offline; nothing heard is kept). Default: the saved choice, else off.")
@click.option("--remember", is_flag=True,
              help="Save this --listen or --no-listen as the default of every later play (scheduled ones too).")
@click.option("--no-check", "no_check", is_flag=True,
              help="Do not start with the short check when no side is given or checked today.")
@session_options
@click.pass_context
def play(ctx, session, player, delay, announce, start_at, listen, remember, no_check, choices):
    """Play the session on this computer's audio output, hands-free.

    Keys: space pause/resume, n next pattern, b back to the pattern's start, r repeat the
    last line, q quit. With --listen, say the same: "pause", "continue", "next", "back",
    "repeat", "stop". Every play is written to the practice log (`sisessions log`).

    A session that needs a side, with no --side and no check today, starts with the short
    check and asks: l, r or s (or say left, right, same). At the end it asks the pain now,
    0 to 10 (digit keys, t for ten, or say it); no answer in 30 s goes on without one.

    Example: sisessions play towel --side left --delay 20 --announce --listen
    """
    from sisessions import app
    from sisessions.play.listen import check_installed
    from sisessions.play.session import PlayOptions
    from sisessions.practice import settings

    if remember and listen is None:
        raise click.UsageError("--remember saves --listen or --no-listen: give one of them")
    if listen is None:
        listen = settings.listen()
    if listen:
        check_installed()  # exit 2 with the install line, before anything plays
    if remember:
        settings.save_value("listen", listen)
    library = app.open_library(ctx.obj["scripts"])
    asks = not no_check and app.check_wanted(library, session, choices)
    # asking: prepared as for nobody to ask (checked at once); the answer decides (app.around)
    prepared = app.prepare(library, session, choices, unattended=True) if asks else prepare_session(
        ctx, session, choices)
    around = app.around(library, session, choices, asks)
    opts = PlayOptions(player=player, delay=delay, announce=announce, start_at=start_at, listen=listen)
    with app.speech_session(choices, ctx.obj["cache_dir"], nice=app.PLAYING_NICE) as speech:
        message = app.play_and_log(prepared, speech, opts, session, debug=ctx.obj["debug"], around=around)
    click.echo(message)
