"""Practice: the saved settings, the practice log and what to do today."""
