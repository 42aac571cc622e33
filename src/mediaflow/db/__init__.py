"""The database layer: models, sessions, the embedded server and admin commands."""
