"""The voice stage: text to cached clips in the one internal format, through engine workers."""
