"""cloud-init configuration (``/etc/cloud/cloud.cfg``, ``/etc/cloud/cloud.cfg.d/*.cfg``): the
``datasource_list`` key, which limits the platforms ds-identify and cloud-init will use.

>>> parse_datasource_list('# comment\\ndatasource_list: [ GCE, None ]\\n')
DatasourceList(value=('GCE', 'None'), line=2, text='datasource_list: [ GCE, None ]')
>>> parse_datasource_list('datasource_list:\\n  - NoCloud\\n  - None\\n').value
('NoCloud', 'None')
>>> parse_datasource_list('users: [default]\\n') is None
True
>>> parse_datasource_list('datasource_list: [GCE\\n')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 2: invalid YAML: expected ',' or ']', but got '<stream end>'
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import LimitError, ParseError
from nodedoctor.parsers.yamldoc import load_yaml


@record
class DatasourceList:
    value: tuple[str, ...]
    line: int
    text: str


def parse_datasource_list(text: str) -> DatasourceList | None:
    """The file's ``datasource_list``, or ``None`` when the file does not set it."""
    try:
        _, data = load_yaml(text)
    except LimitError:
        raise
    except ParseError as exc:
        message = exc.message
        if not message.startswith("invalid YAML"):
            message = f"invalid YAML: {message}"
        raise ParseError(message, exc.line) from None
    if not isinstance(data, dict) or "datasource_list" not in data:
        return None
    raw = data["datasource_list"]
    if isinstance(raw, str):
        items: tuple[str, ...] = tuple(x.strip() for x in raw.split(",") if x.strip())
    elif isinstance(raw, list):
        items = tuple(str(x) for x in raw)
    elif raw is None:
        items = ()
    else:
        raise ParseError("datasource_list is neither a list nor a string")
    line, line_text = 1, "datasource_list"
    for lineno, candidate in enumerate(text.splitlines(), 1):
        if re.match(r"^datasource_list\s*:", candidate):
            line, line_text = lineno, candidate.strip()
    return DatasourceList(items, line, line_text)
