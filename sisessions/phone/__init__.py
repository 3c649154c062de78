"""The phone: a podcast feed of exports and the folder server."""
