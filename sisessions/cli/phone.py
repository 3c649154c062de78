"""On the phone: the podcast feed and the folder server."""
from __future__ import annotations

import click

from sisessions.cli.base import main


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

    from sisessions.phone.feed import shown_name, write_feed

    done = write_feed(Path(folder), base_url, title)
    for p in done.skipped:
        click.echo(f"Left out {p}: it cannot be read as an MP3.", err=True)
    for p in done.misnamed:
        click.echo(f"Left out {shown_name(p)}: its file name is not UTF-8, so no podcast app could "
                   "ask for it; rename it.", err=True)
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; 0.0.0.0 lets your phone in (and anyone on your network with the address).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="The port.")
@click.option("--new-token", is_flag=True, help="Make a new token: addresses given out before stop working.")
@click.option("--https", is_flag=True,
              help="Serve over HTTPS with a certificate of a local authority made once (the phone trusts it once, "
                   "from /ca.crt): the page then keeps today's session on the phone, to play with this computer off.")
@click.option("--cert", metavar="FILE", help="Serve over HTTPS with this certificate (PEM) you already have.")
@click.option("--key", metavar="FILE", help="The private key (PEM) of --cert.")
@click.option("--install", is_flag=True, help="Write a systemd user unit that runs the companion with these options, and stop.")
@click.option("--uninstall", is_flag=True, help="Remove the unit --install wrote (nothing else), and stop.")
@click.pass_context
def companion(ctx, host, port, new_token, https, cert, key, install, uninstall):
    """A private page for your phone: today's session, play it, and log how it went. Ctrl-C stops.

    Prints the address to open on the phone (with a QR code in a terminal). Every request needs
    the token in it; it stays the same until --new-token.

    Example: sisessions companion --host 0.0.0.0 --https
    """
    from sisessions.errors import UsageError

    if install and uninstall:
        raise UsageError("give either --install or --uninstall, not both")
    if install or uninstall:
        from sisessions.schedule import service

        if uninstall:
            lines = service.uninstall()
        else:
            args = service.companion_args(ctx.obj["scripts"], ctx.obj["cache_dir"], host, port, https, cert, key)
            f, lines = service.install(args)
            lines = [f"Wrote {f}."] + lines
        for line in lines:
            click.echo(line)
        return

    from sisessions.phone.companion import run

    run(host, port, new_token, scripts=ctx.obj["scripts"], cache_dir=ctx.obj["cache_dir"],
        say=lambda m: click.echo(m), warn=lambda m: click.echo(m, err=True), https=https, cert=cert, key=key)
