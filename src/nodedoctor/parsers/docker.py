"""Docker's ``/etc/docker/daemon.json``: the cgroup driver among ``exec-opts``, with its line.

>>> d = parse_daemon_json('{\\n  "exec-opts": ["native.cgroupdriver=systemd"],\\n'
...                       '  "log-driver": "json-file"\\n}\\n')
>>> d.cgroup_driver, d.line, d.text
('systemd', 2, '"exec-opts": ["native.cgroupdriver=systemd"],')
>>> parse_daemon_json('{}').cgroup_driver is None
True
>>> parse_daemon_json('{\\n  "exec-opts": ["native.cgroupdriver=systemd"]\\n  "debug": true\\n}')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 3: not valid JSON: Expecting ',' delimiter
"""

from __future__ import annotations

import json
from typing import Any

from nodedoctor._record import record
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.limits import check_json_depth, check_size

_OPTION = "native.cgroupdriver"


@record
class DaemonJson:
    data: dict[str, Any]
    #: The value of ``native.cgroupdriver`` in ``exec-opts`` (the last one wins), if any.
    cgroup_driver: str | None
    line: int | None
    text: str | None


def parse_daemon_json(text: str) -> DaemonJson:
    check_size(text)
    check_json_depth(text)
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict):
        raise ParseError("not a JSON object", 1)
    driver: str | None = None
    opts = data.get("exec-opts")
    if isinstance(opts, list):
        for opt in opts:
            if isinstance(opt, str) and "=" in opt:
                key, value = opt.split("=", 1)
                if key.strip().lower() == _OPTION:
                    driver = value.strip()
    line: int | None = None
    where: str | None = None
    if driver is not None:
        for lineno, raw in enumerate(text.splitlines(), 1):
            if _OPTION in raw.lower():
                line, where = lineno, raw.strip()
    return DaemonJson(data, driver, line, where)
