"""How soon `sisessions play` is heard, and what playing costs.

- first sound, warm cache: from the moment the command is started to (a) the first
  non-silent frame handed to the player (measured inside the process by _probe_play.py) and
  (b) the first loud sample on a private PulseAudio server's monitor (what a listener hears);
- the same on a cold (empty) cache, where synthesis runs ahead in the background;
- CPU used by the play process while a session plays, and while it is paused;
- with --bed NAME: the first sound and the CPU while playing with that bed mixed live, the CPU
  measured in rounds alternating with and without it (the machine's load moves).

Run from the checkout:  .venv/bin/python benchmarks/play_start.py [--runs 5] [--engine espeak] [--bed brown]
It starts its own PulseAudio (pulseaudio, pulseaudio-utils) and touches no real home folder.
"""
from __future__ import annotations

import argparse
import json
import os
import pty
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sisessions.plan.timeline import CHIME_SECONDS  # noqa: E402
from tests.audio_server import RATE, PulseServer, Recorder, loud  # noqa: E402

PROBE = ROOT / "benchmarks" / "_probe_play.py"
TICKS = os.sysconf("SC_CLK_TCK")


def env_for(base: Path, server: PulseServer, cache: Path) -> dict:
    home = base / "home"
    for sub in ("config", "data", "state", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    e = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
             XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
             XDG_CACHE_HOME=str(home / "cache"), SISESSIONS_CACHE=str(cache), **server.env)
    e.pop("SISESSIONS_DEBUG", None)
    return e


def first_sound(server: PulseServer, env: dict, args: list[str], timeout: float = 60):
    """(to the player, to the speaker) in seconds after the command was started, the CPU
    seconds the command used until then (which, unlike the times, hardly depends on load),
    and when the first speech was heard (after the opening chime)."""
    out = Path(tempfile.mktemp(suffix=".json"))
    env = dict(env, SISESSIONS_PROBE_OUT=str(out))
    with Recorder(server) as rec:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(PROBE), *args], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = t0 + timeout
        heard = spoken = None
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            w = loud(rec.samples)
            if len(w) and heard is None:
                heard = rec.time_of(int(w[0]) * (RATE // 50)) - t0
            # the first speech: sound again after the opening chime (2 s) has faded
            later = w[w > w[0] + int(CHIME_SECONDS * 50) + 5] if len(w) else w
            if len(later):
                spoken = rec.time_of(int(later[0]) * (RATE // 50)) - t0
                break
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    probe = json.loads(out.read_text())
    out.unlink()
    player = probe["first_sound"] - t0 if probe["first_sound"] else float("nan")
    cpu = probe["cpu"] if probe["cpu"] is not None else float("nan")
    nan = float("nan")
    return player, heard if heard is not None else nan, cpu, spoken if spoken is not None else nan


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def cpu_while(env: dict, args: list[str], seconds: float, pause: bool) -> float:
    """CPU use of the play process (percent of one core) over `seconds` of playing or paused."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sisessions", *args], env=env, stdin=slave,
                            stdout=slave, stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(slave)
    try:
        time.sleep(3)                      # past start-up
        if pause:
            os.write(master, b" ")
            time.sleep(0.5)
        drain(master)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            time.sleep(0.5)
            drain(master)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        return 100 * (c1 - c0) / (t1 - t0)
    finally:
        os.write(master, b"q")
        proc.wait(10)
        os.close(master)


def drain(fd: int) -> None:
    import select

    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def show(label: str, values: list[float]) -> None:
    vals = [v for v in values if v == v]
    if not vals:
        print(f"  {label:<44} no sound")
        return
    print(f"  {label:<44} median {statistics.median(vals):.2f} s, worst {max(vals):.2f} s"
          f"  ({', '.join(f'{v:.2f}' for v in values)})")


def bed_cpu(server: PulseServer, env: dict, args: list[str], a) -> None:
    with_bed = [*args, "--bed", a.bed]
    firsts = [first_sound(server, env, with_bed) for _ in range(max(1, a.runs))]
    show(f"warm cache, --bed {a.bed}: first sound on the monitor", [f[1] for f in firsts])
    show(f"warm cache, --bed {a.bed}: CPU time until then", [f[2] for f in firsts])
    without, bed = [], []
    for _ in range(a.rounds):
        without.append(cpu_while(env, args, a.cpu_seconds, pause=False))
        bed.append(cpu_while(env, with_bed, a.cpu_seconds, pause=False))
    print(f"  CPU while playing, {a.rounds} rounds of {a.cpu_seconds:g} s (load average now "
          f"{os.getloadavg()[0]:.1f}):")
    print(f"    without a bed   median {statistics.median(without):.1f} % of one core"
          f"  ({', '.join(f'{v:.1f}' for v in without)})")
    print(f"    --bed {a.bed:<9} median {statistics.median(bed):.1f} % of one core"
          f"  ({', '.join(f'{v:.1f}' for v in bed)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engine", default=None, help="voice engine (default: the default engine)")
    ap.add_argument("--session", default="towel")
    ap.add_argument("--cpu-seconds", type=float, default=20)
    ap.add_argument("--player", default="miniaudio")
    ap.add_argument("--bed", default=None, help="also measure with this bed mixed live (e.g. brown)")
    ap.add_argument("--rounds", type=int, default=3, help="with --bed: CPU rounds with and without it")
    a = ap.parse_args()
    voice = ["--engine", a.engine] if a.engine else []
    args = ["play", a.session, "--side", "left", "--player", a.player, *voice]
    with tempfile.TemporaryDirectory(prefix="sisessions-bench-") as tmp:
        base = Path(tmp)
        server = PulseServer(base / "pulse").start()
        try:
            warm_cache = base / "warm-cache"
            env = env_for(base, server, warm_cache)
            subprocess.run([sys.executable, "-m", "sisessions", "synth", a.session, "--side", "left", *voice],
                           env=env, check=True, capture_output=True)
            print(f"sisessions play {a.session} ({a.engine or 'default engine'}, {a.player}); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            warm = [first_sound(server, env, args) for _ in range(a.runs)]
            show("warm cache: first sound to the player", [w[0] for w in warm])
            show("warm cache: first sound on the monitor", [w[1] for w in warm])
            show("warm cache: CPU time of play until then", [w[2] for w in warm])
            cold = []
            for k in range(max(1, a.runs // 2)):
                cold.append(first_sound(server, env_for(base, server, base / f"cold-{k}"), args))
            show("cold cache: first sound to the player", [c[0] for c in cold])
            show("cold cache: first sound on the monitor", [c[1] for c in cold])
            show("cold cache: first speech on the monitor", [c[3] for c in cold])
            print(f"  load average after: {os.getloadavg()[0]:.1f}")
            playing = cpu_while(env, args, a.cpu_seconds, pause=False)
            paused = cpu_while(env, args, a.cpu_seconds, pause=True)
            print(f"  CPU of the play process while playing:       {playing:.1f} % of one core")
            print(f"  CPU of the play process while paused:        {paused:.1f} % of one core")
            if a.bed:
                bed_cpu(server, env, args, a)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
