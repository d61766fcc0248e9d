"""``python -m nodedoctor``."""

from __future__ import annotations

import sys

from nodedoctor.entry import main

sys.exit(main())
