"""The program's own sounds and picture (chime, bed, tone, cover): below both output/ and play/."""
