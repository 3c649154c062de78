"""Voice engines: each runs in a worker process of its own (see base.py)."""
from sisessions.voice.engines.base import (
    DEFAULT_RATE,
    Engine,
    SpeechSettings,
    get_engine,
)

__all__ = ["DEFAULT_RATE", "Engine", "SpeechSettings", "get_engine"]
