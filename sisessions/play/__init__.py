"""The player: plays a session on this computer, under one controller for every input."""
