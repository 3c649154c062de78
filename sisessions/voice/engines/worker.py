"""The engine worker: loads one engine and answers JSON-line requests on a private pipe.

Started by voice.engines.base.Worker as `python -m sisessions.voice.engines.worker '{"synth": ...}'`.
"""
from __future__ import annotations

import json
import os
import sys
import traceback


def main() -> int:
    # The protocol uses a private copy of stdout; fd 1 itself goes to stderr, so that an
    # engine that prints ("Audio saved to ...") can never corrupt the answers or the terminal.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    cfg = json.loads(sys.argv[1])
    mod, _, cls = cfg["synth"].partition(":")
    synth = None
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if synth is None:
                import importlib

                synth = getattr(importlib.import_module(mod), cls)(cfg["voice"], cfg["params"])
            op = req.get("op")
            if op == "synth":
                synth.synthesize(req["text"], req["out"])
                answer = {"ok": True}
            elif op == "voices":
                answer = {"ok": True, "voices": synth.voices()}
            elif op == "ping":
                answer = {"ok": True, "pid": os.getpid()}
            else:
                answer = {"ok": False, "error": f"unknown request {op!r}"}
        except LookupError as e:  # an unknown voice: the user's input, exit 2 in the parent
            answer = {"ok": False, "usage": True, "error": str(e.args[0] if e.args else e)}
        except Exception as e:  # one utterance failing must not end the worker
            traceback.print_exc(file=sys.stderr)
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        proto.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
