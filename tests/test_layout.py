"""The shape of the code: the layers of docs/architecture.md, no import cycles, no module over 500
lines, and the private library APIs we depend on (each where no public one exists) still there,
so an upgrade fails here first."""
from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import layout_check

ROOT = Path(__file__).resolve().parent.parent
CHECK = Path(__file__).resolve().parent / "layout_check.py"  # a copy of the team's layout tool


def test_no_import_cycles_and_no_module_over_500_lines():
    proc = subprocess.run([sys.executable, str(CHECK), str(ROOT / "sisessions")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 cycles" in proc.stdout


def test_the_layout_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    """The check itself can fail: a late import inside a function still ties two modules."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n")
    proc = subprocess.run([sys.executable, str(CHECK), str(pkg)], capture_output=True, text=True)
    assert proc.returncode == 1 and "cycle: pkg.a, pkg.b" in proc.stdout


def floors(doc: Path) -> dict[str, int]:
    """Each package or top-level module named in the first column of the table in `doc`, with
    its row: `errors.py` -> errors, `script/` -> script."""
    rows = [line.split("|")[1] for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    return {re.sub(r"(\.py|/)$", "", name): i for i, cell in enumerate(rows) for name in re.findall(r"`([^`]+)`", cell)}


def layer_faults(pkg: Path, doc: Path) -> list[str]:
    """Every import (inside functions too) of a package or module from its own row of `doc`'s
    table or one below it, and every package or module the table does not name."""
    floor = floors(doc)
    known = layout_check.modules(pkg)

    def unit(module: str) -> str:  # pkg.script.load -> script; the package's own __init__ -> ""
        return module.split(".")[1] if "." in module else ""

    faults = list({f"{unit(m)} is not in the table" for m in known if unit(m) not in (*floor, "", "__main__")})
    for m, path in known.items():
        here = unit(m)
        if here in ("", "__main__") or here not in floor:
            continue  # __init__ (the version) and __main__ (python -m) stand outside the layers
        for dep in sorted(layout_check.imports(m, path, known)):
            there = unit(dep)
            if there not in ("", here) and there in floor and floor[there] >= floor[here]:
                faults.append(f"{m} imports {dep}, which is not above it")
    return sorted(faults)


def test_each_package_imports_only_those_above_it_in_architecture_md():
    assert layer_faults(ROOT / "sisessions", ROOT / "docs" / "architecture.md") == []


def test_the_layer_check_finds_an_import_from_below_hidden_in_a_function(tmp_path):
    """The check itself can fail: an import up the table, inside a function, from a package's
    own row, and a package the table forgot."""
    pkg = tmp_path / "pkg"
    for name in ("first", "second", "beside", "stray"):
        (pkg / name).mkdir(parents=True)
        (pkg / name / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "first" / "a.py").write_text("from pkg import errors\nfrom pkg.first import b\n\ndef f():\n    from pkg.second import c\n")
    (pkg / "first" / "b.py").write_text("")
    (pkg / "second" / "c.py").write_text("import pkg.errors\nfrom pkg.first import a\n")  # both above: fine
    (pkg / "beside" / "d.py").write_text("from pkg.second import c\n")
    doc = tmp_path / "architecture.md"
    doc.write_text("| package | job |\n| --- | --- |\n| `errors.py` | x |\n| `first/` | x |\n| `second/`, `beside/` | x |\n")
    assert layer_faults(pkg, doc) == ["pkg.beside.d imports pkg.second.c, which is not above it",
                                      "pkg.first.a imports pkg.second.c, which is not above it",
                                      "stray is not in the table"]


def test_mutagen_still_writes_id3_through_the_private_write_we_order_chapters_in():
    """output/tags.py overrides ID3._write and calls mutagen.id3._tags.save_frame: mutagen has no
    public way to choose frame order (quodlibet/mutagen#506), and players read CHAP in file order."""
    from mutagen.id3 import ID3
    from mutagen.id3._tags import save_frame

    assert list(inspect.signature(ID3._write).parameters) == ["self", "config"]
    assert "config" in inspect.signature(save_frame).parameters


def test_pyttsx3_still_has_the_espeak_bindings_we_synthesize_through():
    """voice/engines/espeak.py calls pyttsx3.drivers._espeak directly: the driver's own loop can
    write an utterance into the next call's file (see the engine's docstring)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the espeak-ng bindings are used on Linux only")
    from sisessions.voice.engines.espeak import _load_espeak_library

    _load_espeak_library()
    _espeak = importlib.import_module("pyttsx3.drivers._espeak")
    for name in ("SetSynthCallback", "Synth", "Synchronize", "ENDPAUSE", "CHARS_UTF8"):
        assert hasattr(_espeak, name), name


def test_simpleaudio_still_raises_the_error_we_catch_when_the_output_goes_away():
    """play/device.py catches simpleaudio._simpleaudio.SimpleaudioError: the package exports no
    public name for it (simpleaudio is archived, so this will not move)."""
    import simpleaudio as sa  # a test dependency (pyproject's [test] extra): never skipped

    assert issubclass(sa._simpleaudio.SimpleaudioError, Exception)
