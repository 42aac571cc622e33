"""Transcription providers: speech to timed text, one module each (imported lazily)."""
