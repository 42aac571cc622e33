"""The ``mediaflow`` command line: one module per command group."""
