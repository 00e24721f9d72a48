"""``python -m bridge`` runs the command line."""

from __future__ import annotations

import sys

from bridge.cli import main

sys.exit(main())
