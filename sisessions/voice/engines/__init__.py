"""Voice engines: each runs in a worker process of its own (see base.py)."""
from sisessions.voice.engines.base import (
    Engine,
    SpeechSettings,
    get_engine,
)

__all__ = ["Engine", "SpeechSettings", "get_engine"]
