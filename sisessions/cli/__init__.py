"""The click command line: parse, call one app function, print. Errors are translated in base."""
from sisessions.cli import phone, practice, schedule, session, settings  # noqa: F401  (they register the commands)
from sisessions.cli.base import main

__all__ = ["main"]
