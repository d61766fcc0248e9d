"""Shared settings of the property-based tests, and the count of cases they ran.

The ``robustness`` profile keeps the whole directory well under a minute on two cores; set
``NODEDOCTOR_FUZZ_EXAMPLES`` to run more. The number of generated cases is printed in the
terminal summary (``robustness: N generated cases``) so it can be reported.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("NODEDOCTOR_FUZZ_EXAMPLES", "150"))

settings.register_profile(
    "robustness",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: cases run, by test family; filled by the tests, printed at the end.
CASES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASES:
        return
    parts = ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
    terminalreporter.write_line(f"robustness: {sum(CASES.values())} generated cases ({parts})")
