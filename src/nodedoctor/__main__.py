"""``python -m nodedoctor``."""

from __future__ import annotations

import sys

from nodedoctor.cli import main

sys.exit(main())
