"""Verify the media analysis database against its migrations.

    python migrations/verify_migrations.py --check-only   # inspect the live database
    python migrations/verify_migrations.py                # ... and an up/down round trip
    python migrations/verify_migrations.py --write-snapshots

The database is MEDIAFLOW_DATABASE_URL, or the embedded one when that is unset.
Exit status 0 when everything holds, 1 when there are differences (one line each),
another non-zero status (with a one-line error) when the check could not run.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mediaflow.cli.app import main

if __name__ == "__main__":
    main(["db", "verify", *sys.argv[1:]], prog_name="verify_migrations.py")
