"""One catalogue of the library (sisessions/plan/catalogue.py) for `list` and the companion's
`/api/sessions`: both show the same ids, titles and planned lengths, and a broken file alike."""
from __future__ import annotations

import json
import shutil

from sisessions import app
from sisessions.phone.api import Api
from sisessions.plan.catalogue import catalogue
from sisessions.plan.timeline import duration_text
from tests.conftest import FIXTURES, run_cli


def library_with_broken_files(tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(FIXTURES / "lib", lib)
    (lib / "sessions" / "broken.yaml").write_text("title: [unclosed\n")           # does not load
    (lib / "sessions" / "endless.yaml").write_text("title: Endless\nitems:\n" + "  - long-tiny\n" * 7)  # over 3 hours
    return lib


def test_list_and_the_api_show_the_one_catalogue(tmp_path):
    lib = library_with_broken_files(tmp_path)
    entries = {(e.kind, e.id): e for e in catalogue(app.open_library((str(lib),)))}
    mini = entries[("session", "mini")]
    assert mini.ok and mini.sided and mini.patterns == (("tiny", "Tiny Pattern"), ("sided-tiny", "Sided Tiny"))
    assert entries[("pattern", "sided-tiny")].stage == "reshape"
    assert not entries[("session", "broken")].ok and entries[("session", "broken")].title is None
    endless = entries[("session", "endless")]
    assert endless.title == "Endless" and endless.seconds is None  # loads, does not plan

    listed = run_cli("--scripts", lib, "list", check=0).stdout.splitlines()
    for (kind, i), e in entries.items():
        row = next(ln.split() for ln in listed if ln.split()[:1] == [i])
        if e.title is None:
            assert row[1:] == ["(invalid:", "run", "`sisessions", "validate`)"]
        else:
            length = "~" + duration_text(e.seconds) if e.ok else "invalid"
            assert row[-1] == length and " ".join(row[1:]).startswith(e.title)

    api = json.loads(Api((str(lib),), renders=None).sessions(None).body)
    assert [s["id"] for s in api] == sorted(i for (k, i), e in entries.items() if k == "session" and e.ok)
    for s in api:
        e = entries[("session", s["id"])]
        assert s == {"id": e.id, "title": e.title, "minutes": round(e.seconds / 60, 1), "sided": e.sided,
                     "patterns": [{"id": p, "title": t} for p, t in e.patterns]}
