"""The saved working side, the audio cache and the voice engines."""
from __future__ import annotations

import click

from sisessions.cli.base import SIDE_CHOICE, main


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
    click.echo(s if s else "No working side saved yet: do the check session (`sisessions play check`) "
                           "to find it, then `sisessions side set left` (or right).")


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
    """Place, size and number of cached clips and converted beds.

    Example: sisessions cache info
    """
    from sisessions import paths
    from sisessions.voice.cache import Cache

    c = Cache(paths.cache_dir(ctx.obj["cache_dir"]))
    n, size = c.info()
    beds, bed_size = c.beds()
    click.echo(f"place: {c.root}\nclips: {n}\nbeds: {beds} ({bed_size / 1e6:.1f} MB)\n"
               f"size: {(size + bed_size) / 1e6:.1f} MB")


@cache.command("clear")
@click.pass_context
def cache_clear(ctx):
    """Remove every cached clip (they are made again when needed).

    Only clips are removed: anything else in the folder is left and named, and a folder that
    was never a cache is refused.

    Example: sisessions cache clear
    """
    from sisessions import paths
    from sisessions.voice.cache import Cache, describe_left

    c = Cache(paths.cache_dir(ctx.obj["cache_dir"]))
    done = c.clear()
    beds = f" and {done.beds} converted bed file{'s' if done.beds != 1 else ''}" if done.beds else ""
    click.echo(f"Removed {done.removed} clip{'s' if done.removed != 1 else ''}{beds} from {c.root}.")
    if done.left:
        click.echo(describe_left(done.left, c.root))


@main.command()
@click.option("--voices", is_flag=True, help="Also list every voice of each installed engine.")
def engines(voices):
    """The voice engines, whether each is installed, and its voices.

    Example: sisessions engines --voices
    """
    from sisessions.cli.report import engine_lines

    for line in engine_lines(voices):
        click.echo(line)
