"""The phone companion, measured: Play tapped to audio time advancing in headless Chromium (warm
cache), a render of `daily` through the API on a cold and a warm speech cache, and requests per
second with 20 concurrent range readers of the audio file, with the server's memory under it.

    .venv/bin/python benchmarks/companion.py [--session daily] [--seconds 10] [--readers 20]

Everything runs in a throwaway home on 127.0.0.1 only; the real home, config and cache are not
touched. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start(env: dict, scripts: list[str]) -> tuple[subprocess.Popen, int, str]:
    e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    e.update(env, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "sisessions", *scripts, "companion", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=ROOT)
    m = re.search(r":(\d+)/\?t=(\S+)", proc.stdout.readline())
    if not m:
        raise SystemExit(proc.stderr.read())
    return proc, int(m[1]), m[2]


def render(h: httpx.Client, body: dict) -> tuple[dict, float]:
    t = time.monotonic()
    r = h.post("/api/render", json=body).json()
    if "state" not in r:
        raise SystemExit(f"render: {r}")
    while r["state"] == "working":
        time.sleep(0.1)
        r = h.get(f"/api/render/{r['id']}").json()
    return r, time.monotonic() - t


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def readers(port: int, token: str, path: str, size: int, n: int, seconds: float, pid: int) -> tuple[int, int, int]:
    """(requests, errors, peak RSS kB) of n keep-alive clients asking random 64 KB ranges."""
    stop = time.monotonic() + seconds
    counts, errors, peak = [0] * n, [0] * n, [rss_kb(pid)]

    def one(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rnd = random.Random(k)
        while time.monotonic() < stop:
            first = rnd.randrange(0, max(1, size - 65536))
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}",
                                                   "Range": f"bytes={first}-{first + 65535}"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 206 or len(body) != min(65536, size - first):
                    errors[k] += 1
                counts[k] += 1
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], rss_kb(pid))
        time.sleep(0.2)
    return sum(counts), sum(errors), peak[0]


def play_latency(base: str, token: str, session: str, rounds: int) -> list[float]:
    from tests.phone.helpers import chromium

    drv = chromium()
    out = []
    try:
        drv.get(f"{base}/?t={token}&session={session}")
        for _ in range(rounds):
            drv.get(f"{base}/?session={session}")
            end = time.monotonic() + 120
            while not drv.execute_script("return !document.querySelector('[data-action=play]').disabled"):
                if time.monotonic() > end:
                    raise SystemExit("the page never became ready")
                time.sleep(0.05)
            ms = drv.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const a = document.querySelector('audio');
                const t0 = performance.now();
                document.querySelector('[data-action=play]').click();
                (function check() {
                  if (a.currentTime > 0 && !a.paused) done(performance.now() - t0);
                  else setTimeout(check, 2);
                })();""")
            out.append(ms)
    finally:
        drv.quit()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--session", default="daily")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--readers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scripts", action="append", default=[], help="a library of your own (e.g. tests/fixtures/phone)")
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    root = Path(tempfile.mkdtemp(prefix="sisessions-bench-companion-"))
    env = {"HOME": str(root / "home"), "SISESSIONS_CACHE": str(root / "cache")}
    for sub in ("config", "data", "state", "cache"):
        (root / "home" / sub).mkdir(parents=True)
        env[f"XDG_{sub.upper()}_HOME"] = str(root / "home" / sub)
    e = dict(os.environ, **env)
    e.pop("SISESSIONS_DEBUG", None)
    subprocess.run([sys.executable, "-m", "sisessions", "side", "set", "left"], env=e, check=True,
                   capture_output=True)  # the page would ask once
    proc, port, token = start(env, [a for d in args.scripts for a in ("--scripts", str(Path(d).resolve()))])
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=3600, headers={"Authorization": f"Bearer {token}"}) as h:
            body = {"session": args.session, "side": "left"}
            ready, cold = render(h, body)
            print(f"render {args.session} ({ready['duration'] / 60:.1f} min of audio), cold speech cache: {cold:.1f} s")
            shutil.rmtree(root / "home" / "data" / "sisessions" / "companion" / ready["id"])
            ready, warm = render(h, body)
            print(f"render {args.session}, warm speech cache (MP3 encode and tags): {warm:.1f} s")
            _again, found = render(h, body)
            print(f"the same render asked again (a page reload): {found * 1000:.0f} ms")
            size = int(h.head(ready["audio"]).headers["content-length"])
        print(f"server RSS idle: {rss_kb(proc.pid) / 1024:.0f} MB")
        n, errs, peak = readers(port, token, ready["audio"], size, args.readers, args.seconds, proc.pid)
        print(f"{args.readers} range readers (64 KB each) for {args.seconds:.0f} s: {n / args.seconds:.0f} requests/s "
              f"({n * 65536 / args.seconds / 1e6:.0f} MB/s), {errs} errors, server RSS peak {peak / 1024:.0f} MB")
        lat = sorted(play_latency(base, token, args.session, args.rounds))
        print(f"Play tapped to audio time advancing (Chromium, warm): median {lat[len(lat) // 2]:.0f} ms, "
              f"range {lat[0]:.0f}-{lat[-1]:.0f} ms over {len(lat)} taps")
    finally:
        proc.send_signal(2)
        proc.wait(15)
        shutil.rmtree(root, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
