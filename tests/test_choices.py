"""The session choices, defined once (sisessions/choices.py): the command line's options, the
command line a schedule runs and the companion's JSON are all made from that one definition."""
from __future__ import annotations

import dataclasses

import click
import pytest
from click.testing import CliRunner

from sisessions.choices import Choices, Kind, choice
from sisessions.cli.base import choice_options, main, session_options
from sisessions.errors import UsageError

EVERY = Choices(side="right", pace=1.5, rate=150, engine="espeak", voice="en-gb", skip=("knee-sway", "reach"),
                minutes=20, bed="drone", bed_level=-50)


def parsed(decorate, args: list[str]):
    """What a command made with `decorate` receives as `choices` for `args` (exit 2 for bad ones)."""
    got = {}

    @click.command()
    @decorate
    def cmd(choices):
        got["choices"] = choices

    result = CliRunner().invoke(cmd, args)
    return got.get("choices"), result


def test_every_choice_differs_from_its_default_in_the_example():
    """So the round trips below cover every field, including one added later."""
    for f, _opt in Choices.options():
        assert getattr(EVERY, f.name) != f.default, f.name


def test_a_schedules_command_line_gives_the_command_the_same_choices():
    """What `schedule add` writes into the entry (Choices.args) parses back, through the options
    every session command has, to the choices it was added with: none is dropped (the --bed drift
    that 369ae64 mended) and none changes."""
    args = EVERY.args()
    assert args == ["--side", "right", "--pace", "1.5", "--rate", "150", "--engine", "espeak", "--voice", "en-gb",
                    "--skip", "knee-sway", "--skip", "reach", "--minutes", "20", "--bed", "drone",
                    "--bed-level", "-50"]
    got, result = parsed(session_options, args)
    assert result.exit_code == 0, result.output
    assert got == EVERY
    assert Choices().args() == []  # the defaults are not written
    assert parsed(session_options, [])[0] == Choices()


@pytest.mark.parametrize("command", ["show", "synth", "export", "play", "schedule add"])
def test_every_session_command_takes_every_choice(command):
    cmd = main
    for word in command.split():
        cmd = cmd.commands[word]
    flags = {o for p in cmd.params for o in p.opts}
    assert {"--" + f.name.replace("_", "-") for f, _ in Choices.options()} <= flags


def test_the_page_sends_its_choices_as_json():
    sent = {"side": "left", "pace": 2, "skip": ["reach"], "minutes": 12.5, "bed": "brown"}
    assert Choices.api_names() == set(sent)
    assert Choices.from_json(sent) == Choices(side="left", pace=2.0, skip=("reach",), minutes=12.5, bed="brown")
    assert Choices.from_json({"pace": None}) == Choices()  # null: the default
    assert Choices.from_json({}, engine="espeak") == Choices(engine="espeak")  # the server's own


@pytest.mark.parametrize(("sent", "error"), [
    ({"side": "up"}, "'side' must be left or right"),
    ({"pace": 9}, "'pace' must be a number from 0.5 to 3"),
    ({"pace": True}, "'pace' must be a number from 0.5 to 3"),
    ({"pace": "1"}, "'pace' must be a number from 0.5 to 3"),
    ({"minutes": float("nan")}, "'minutes' must be a number from 1 to 180"),
    ({"skip": "reach"}, "'skip' must be a list of pattern ids"),
    ({"skip": ["../x"]}, "'skip' must be a list of pattern ids"),
    ({"skip": ["a"] * 51}, "'skip' must be a list of pattern ids"),
    ({"bed": "/etc/passwd"}, "'bed' must be the name of a built-in bed"),
    ({"bed": "..\\x.wav"}, "'bed' must be the name of a built-in bed"),
    ({"bed": 3}, "'bed' must be the name of a built-in bed"),
])
def test_bad_json_is_one_sentence_naming_the_field(sent, error):
    with pytest.raises(UsageError) as e:
        Choices.from_json(sent)
    assert str(e.value) == error


def test_the_page_cannot_send_what_only_this_computer_chooses():
    """rate, engine, voice and bed_level are not the page's: they are ignored by from_json (and
    the API refuses them as unknown fields before that)."""
    assert Choices.from_json({"engine": "piper", "rate": 60, "voice": "x", "bed_level": -30}) == Choices()


def test_check_names_the_first_value_out_of_range():
    Choices().check()
    EVERY.check()
    with pytest.raises(UsageError, match=r"^--rate must be a whole number from 60 to 200; got 250$"):
        Choices(rate=250).check()
    with pytest.raises(UsageError, match=r"^--side must be left or right; got up$"):
        Choices(side="up").check()


@pytest.mark.parametrize(("args", "word"), [(["--pace", "9"], "--pace"), (["--rate", "20"], "--rate"),
                                            (["--minutes", "nan"], "--minutes"), (["--side", "up"], "--side")])
def test_a_bad_option_exits_2_naming_it(args, word):
    got, result = parsed(session_options, args)
    assert got is None and result.exit_code == 2 and word in result.output


# ---------------------------------------------------------------- a choice added later

Extended = dataclasses.make_dataclass(
    "Extended",
    [("breath_hold", float | None, choice(Kind.NUMBER, None, "Seconds to hold each breath.", low=1, high=4,
                                            api=True))],
    bases=(Choices,), frozen=True)


def test_a_choice_added_to_the_definition_reaches_the_cli_the_schedule_line_and_the_api():
    """One field added to the definition, and nothing else: the command line has its option
    (with its range and help), a schedule's line carries it, and the page's JSON sets it."""
    wanted = Extended(side="left", breath_hold=2.5)
    # the schedule's line
    assert wanted.args() == ["--side", "left", "--breath-hold", "2.5"]
    # the command line, reading that line back
    got, result = parsed(choice_options(Extended), wanted.args())
    assert result.exit_code == 0, result.output
    assert got == wanted
    _, helped = parsed(choice_options(Extended), ["--help"])
    assert "--breath-hold FLOAT RANGE" in helped.output and "Seconds to hold each breath." in helped.output
    bad, refused = parsed(choice_options(Extended), ["--breath-hold", "9"])
    assert bad is None and refused.exit_code == 2
    # the API
    assert "breath_hold" in Extended.api_names()
    assert Extended.from_json({"side": "left", "breath_hold": 2.5}) == wanted
    with pytest.raises(UsageError, match="'breath_hold' must be a number from 1 to 4"):
        Extended.from_json({"breath_hold": 9})
    with pytest.raises(UsageError, match="--breath-hold must be a number from 1 to 4; got 9"):
        Extended(breath_hold=9).check()
