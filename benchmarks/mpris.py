"""How fast MPRIS controls `sisessions play`, and what offering MPRIS costs.

- Pause -> silence: from sending an MPRIS `Pause` (over D-Bus, as a media key does) to the end
  of the last loud 20 ms window on a private PulseAudio server's monitor; taken only when the
  voice was sounding just before the call (else a pause between words would read as 0).
- Next -> next pattern: from sending `Next` (while paused, so nothing else sounds) to the first
  loud window of that pattern's first line.
- CPU of a whole play with MPRIS (a private session bus) against without (no bus address).

Each figure is the median of --runs plays of the test fixture session (espeak at 200 wpm).
Run from the checkout:  .venv/bin/python benchmarks/mpris.py [--runs 10]
It starts its own PulseAudio and dbus-daemon and touches no real home folder or bus.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dbus_fast import Message, MessageType  # noqa: E402
from dbus_fast.aio import MessageBus  # noqa: E402

from benchmarks import play_start  # noqa: E402
from tests.audio_server import RATE, PulseServer, Recorder, envelope, loud  # noqa: E402

SCRIPTS = ROOT / "tests" / "fixtures" / "play"
VOICE = ["--engine", "espeak", "--rate", "200"]
WIN = RATE // 50


def env_for(base: Path, server: PulseServer, cache: Path) -> dict:
    """play_start's isolated environment, with no session bus of the person's own."""
    e = play_start.env_for(base, server, cache)
    e.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return e


def play(env: dict, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sisessions", "--scripts", str(SCRIPTS), "play", "short",
                             *VOICE, *extra], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


class Client:
    """A D-Bus client of our own on the private bus, so a call costs no process start."""

    def __init__(self, address: str):
        self.loop = asyncio.new_event_loop()

        async def connect():  # the bus object must be made inside its loop
            return await MessageBus(bus_address=address).connect()

        self.bus = self.loop.run_until_complete(connect())

    def names(self) -> list[str]:
        reply = self.loop.run_until_complete(self.bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="ListNames")))
        return reply.body[0]

    def call(self, member: str) -> float:
        """Send Player.`member` to sisessions; returns when it was sent (time.monotonic())."""
        msg = Message(destination="org.mpris.MediaPlayer2.sisessions", path="/org/mpris/MediaPlayer2",
                      interface="org.mpris.MediaPlayer2.Player", member=member)
        sent = time.monotonic()
        reply = self.loop.run_until_complete(self.bus.call(msg))
        assert reply.message_type == MessageType.METHOD_RETURN, reply.body
        return sent

    def close(self):
        self.bus.disconnect()
        self.loop.close()


def loud_at(rec: Recorder, t: float) -> bool:
    """Was the voice sounding in the 40 ms before `t`?"""
    a = rec.sample_at(t - 0.04)
    return bool((envelope(rec.samples[a: a + 2 * WIN]) > 300).all())


def one_run(server: PulseServer, env: dict, address: str) -> tuple[float | None, float]:
    client = Client(address)
    try:
        with Recorder(server) as rec:
            proc = play(dict(env, DBUS_SESSION_BUS_ADDRESS=address))
            deadline = time.monotonic() + 30
            while "org.mpris.MediaPlayer2.sisessions" not in client.names():
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
                time.sleep(0.02)
            # into the opening's lines; wait for a moment when the voice sounds
            time.sleep(1.0)
            while not loud_at(rec, time.monotonic() - 0.2):
                time.sleep(0.01)
            paused = client.call("Pause")
            time.sleep(0.8)
            nxt = client.call("Next")
            time.sleep(1.0)
            client.call("Stop")
            proc.wait(10)
        start = rec.sample_at(paused)
        upto = rec.sample_at(nxt)
        tail = loud(rec.samples[start:upto])
        silent = (int(tail[-1]) + 1) * WIN / RATE if len(tail) else 0.0
        pause_latency = silent if loud_at(rec, paused - 0.15) else None  # (the output's own delay)
        after = loud(rec.samples[upto:])
        next_latency = int(after[0]) * WIN / RATE
        return pause_latency, next_latency
    finally:
        client.close()


def cpu_of(env: dict) -> tuple[float, float]:
    """(CPU seconds, user + system; wall seconds) of one whole play of the fixture from its
    first pattern."""
    before, t0 = os.times(), time.monotonic()
    proc = play(env, "--from", "reach")
    proc.wait(60)
    after = os.times()
    return ((after.children_user - before.children_user) + (after.children_system - before.children_system),
            time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sisessions-bench-") as tmp:
        base = Path(tmp)
        server = PulseServer(base / "pulse").start()
        daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        address = daemon.stdout.readline().strip()
        try:
            env = env_for(base, server, base / "cache")
            subprocess.run([sys.executable, "-m", "sisessions", "--scripts", str(SCRIPTS), "synth", "short",
                            *VOICE], env=env, check=True, capture_output=True)
            pauses, nexts = [], []
            for _ in range(a.runs):
                p, n = one_run(server, env, address)
                if p is not None:
                    pauses.append(p)
                nexts.append(n)
            cpu_with = [cpu_of(dict(env, DBUS_SESSION_BUS_ADDRESS=address)) for _ in range(3)]
            cpu_without = [cpu_of(env) for _ in range(3)]
        finally:
            daemon.kill()
            server.stop()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    if pauses:
        print(f"MPRIS Pause -> silence on the monitor: median {statistics.median(pauses) * 1000:.0f} ms "
              f"(max {max(pauses) * 1000:.0f} ms, {len(pauses)} of {a.runs} runs paused mid-word)")
    print(f"MPRIS Next -> next pattern's first sound: median {statistics.median(nexts) * 1000:.0f} ms "
          f"(max {max(nexts) * 1000:.0f} ms, {len(nexts)} runs)")
    wall = statistics.median(w for _, w in cpu_with + cpu_without)
    print(f"CPU of a whole play (the fixture from its first pattern, {wall:.1f} s, start-up included): "
          f"with MPRIS {statistics.median(c for c, _ in cpu_with):.2f} s, "
          f"without {statistics.median(c for c, _ in cpu_without):.2f} s (medians of 3)")


if __name__ == "__main__":
    main()
