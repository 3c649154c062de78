"""The output stage: a timeline and its voice to PCM chunks, and the files made from them."""
