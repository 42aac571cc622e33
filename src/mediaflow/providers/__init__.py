"""Transcription and analysis providers: one protocol per kind, one registry, one module each."""
