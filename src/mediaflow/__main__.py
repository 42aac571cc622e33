"""``python -m mediaflow``: the same as the ``mediaflow`` command."""

from mediaflow.cli.app import main

if __name__ == "__main__":
    main()
