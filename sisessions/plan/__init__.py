"""The plan stage: a model and the user's choices to a timeline of cues (pure data, no audio)."""
