"""Where rendered audio goes: a WAV file, ffmpeg's MP3 encoder, the audio device."""
