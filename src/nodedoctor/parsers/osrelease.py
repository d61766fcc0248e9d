"""``/etc/os-release`` and other ``KEY=value`` shell-style files (env files, ``kubeadm-flags.env``).

>>> parse_env_file('ID="rocky"\\nVERSION_ID="9.3"\\n# comment\\nexport A=b\\n')['ID'].value
'rocky'
>>> parse_env_file("KUBELET_KUBEADM_ARGS='--cgroup-driver=systemd --x=1'\\n")[
...     'KUBELET_KUBEADM_ARGS'].line
1
"""

from __future__ import annotations

import shlex

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class Assignment:
    value: str
    line: int
    text: str


def parse_env_file(text: str) -> dict[str, Assignment]:
    out: dict[str, Assignment] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        name, sep, raw = stripped.partition("=")
        name = name.strip()
        if not sep or not name.replace("_", "a").isalnum():
            raise ParseError(f"not a KEY=value assignment: {stripped[:60]!r}", lineno)
        try:
            words = shlex.split(raw, comments=True, posix=True)
        except ValueError as exc:
            raise ParseError(f"{name}: {exc}", lineno) from None
        out[name] = Assignment(" ".join(words), lineno, line)
    return out
