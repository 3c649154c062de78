"""The companion with the computer off (SPEC §9), measured from a phone's browser on a home
network: the storage a kept `daily` takes on the phone, the time from "ready" (the render is
there, Play enabled) to "kept" (data-offline="ready") on a warm cache, and the time from the
companion answering again to a queued Done being in the practice log.

    .venv/bin/python benchmarks/offline.py [--session daily] [--runs 3] [--cache-dir DIR]

As root: it makes a network namespace (tests/phone/netns.py), runs the companion with --https at its
10.x address and Chromium (trusting the companion's authority through NSS) inside it, in a
throwaway home. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import module_env, run_cli  # noqa: E402
from tests.phone import netns  # noqa: E402
from tests.phone.helpers import Companion, log_lines, wait_for  # noqa: E402

KEPT = """
const done = arguments[arguments.length - 1];
(async () => {
  let bytes = 0;
  const c = await caches.open("sis-session");
  for (const r of await c.keys()) bytes += (await (await c.match(r)).arrayBuffer()).byteLength;
  const p = await caches.open("sis-page");
  for (const r of await p.keys()) bytes += (await (await p.match(r)).arrayBuffer()).byteLength;
  return {bytes: bytes, usage: (await navigator.storage.estimate()).usage, queue: (await sisOffline.waiting()).length};
})().then(done, (e) => done({error: String(e)}));
"""
FORGET = """
const done = arguments[arguments.length - 1];
Promise.all([caches.delete("sis-session")]).then(() => done(true), (e) => done(String(e)));
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--session", default="daily")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cache-dir", help="a speech cache to use (default: a new one, filled first)")
    args = ap.parse_args()
    if not netns.usable():
        raise SystemExit(netns.skip_reason())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = module_env(root, Path(args.cache_dir) if args.cache_dir else root / "speech")
        run_cli("side", "set", "left", env=env, check=0)  # a sided session: the page would ask first
        ns = netns.Netns()
        try:
            run(ns, env, root, args)
        finally:
            ns.close()


def run(ns: netns.Netns, env: dict, root: Path, args) -> None:
    from selenium.webdriver.common.by import By

    c = Companion(env, "--https", ns=ns, host=ns.ip, port=8765, libs=())
    phone = root / "phone"
    phone.mkdir()
    netns.trust(phone, Path(env["XDG_CONFIG_HOME"]) / "sisessions" / "companion-https" / "ca.crt")
    b = netns.Browser(ns, phone)
    drv = b.drv
    drv.set_script_timeout(120)
    try:
        t = time.monotonic()
        drv.get(f"{c.base}/?t={c.token}&session={args.session}")  # fills the speech cache, once
        play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
        wait_for(lambda: play.is_enabled(), 1800, 0.2)
        print(f"first render of {args.session} (speech cache {'given' if args.cache_dir else 'cold'}): "
              f"{time.monotonic() - t:.1f} s")
        keep_s = []
        for _ in range(args.runs):
            drv.execute_async_script(FORGET)
            drv.get(f"{c.base}/?session={args.session}")
            play = drv.find_element(By.CSS_SELECTOR, '[data-action="play"]')
            wait_for(lambda: play.is_enabled(), 600)
            ready = time.monotonic()
            wait_for(lambda: drv.execute_script("return document.body.dataset.offline") == "ready", 600, 0.01)
            keep_s.append(time.monotonic() - ready)
        sizes = drv.execute_async_script(KEPT)
        duration = drv.execute_script("return document.querySelector('audio').duration")
        print(f"kept on the phone for today's session ({duration / 60:.1f} min): "
              f"{sizes['bytes'] / 1e6:.1f} MB in the caches (storage estimate {sizes['usage'] / 1e6:.1f} MB)")
        print(f"'ready' to 'kept', warm cache: median {statistics.median(keep_s) * 1000:.0f} ms "
              f"({', '.join(f'{s * 1000:.0f}' for s in keep_s)} ms)")
        back_s = []
        for _ in range(args.runs):
            c.stop()
            before = len(log_lines(env))
            drv.get(f"{c.base}/?session={args.session}")
            form = wait_for(lambda: drv.find_elements(By.CSS_SELECTOR, 'form[data-action="done"]'), 60)[0]
            wait_for(lambda: "Kept on this phone" in drv.find_element(By.ID, "reason").text, 60)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_for(lambda: "Kept on this phone" in drv.find_element(By.ID, "done-status").text, 60)
            c.start()  # returns once the companion accepts connections
            back = time.monotonic()
            wait_for(lambda: len(log_lines(env)) > before, 120, 0.01)
            back_s.append(time.monotonic() - back)
        print(f"companion back to the queued Done in the log: median {statistics.median(back_s):.1f} s "
              f"({', '.join(f'{s:.1f}' for s in back_s)} s; the page retries every 5 s while something waits)")
        print(json.dumps({"kept_mb": round(sizes["bytes"] / 1e6, 2), "usage_mb": round(sizes["usage"] / 1e6, 2),
                          "ready_to_kept_ms": [round(s * 1000) for s in keep_s],
                          "back_to_log_s": [round(s, 2) for s in back_s]}))
    finally:
        b.quit()
        c.stop()


if __name__ == "__main__":
    main()
