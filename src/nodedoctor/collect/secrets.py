"""What never leaves the node: files withheld from a bundle, and values redacted in the rest.

Withheld (by path): kubeconfigs, certificates and keys, token files, credential stores,
pod volumes and service-account secrets. Redacted (by line, keeping the line so evidence
line numbers still match): values of credential keys in TOML, YAML, JSON, INI and env files
(containerd registry ``password``/``auth``/``identitytoken``, Docker ``auths``, k3s
``token``/``agent-token``, kubeadm bootstrap tokens), credential flags on command lines,
bootstrap-token-shaped strings and ``Authorization`` headers anywhere, and PEM private
key blocks.

>>> redact_text("[plugins.x.auth]\\n  password = 'hunter2'\\n")[0]
"[plugins.x.auth]\\n  password = '<redacted>'\\n"
>>> redact_text('{"auths": {"r.io": {"auth": "dXNlcjpwYXNz"}}}')[0]
'{"auths": {"r.io": {"auth": "<redacted>"}}}'
>>> withheld_reason("/etc/kubernetes/admin.conf")
'kubeconfig (cluster credentials)'
>>> withheld_reason("/etc/containerd/config.toml") is None
True
"""

from __future__ import annotations

import fnmatch
import re

REDACTED = "<redacted>"

#: (glob over the node path, reason). Checked in order; the first match withholds the file.
WITHHELD: tuple[tuple[str, str], ...] = (
    ("/etc/kubernetes/*.conf", "kubeconfig (cluster credentials)"),
    ("*kubeconfig*", "kubeconfig (cluster credentials)"),
    ("*/kubelet.conf", "kubeconfig (cluster credentials)"),
    ("/etc/rancher/k3s/k3s.yaml", "kubeconfig (cluster credentials)"),
    ("/etc/rancher/rke2/rke2.yaml", "kubeconfig (cluster credentials)"),
    ("*/pki/*", "certificates and keys"),
    ("*/tls/*", "certificates and keys"),
    ("*/certs/*", "certificates and keys"),
    ("*/certs.d/*.crt", "certificates and keys"),
    ("*.key", "private key"),
    ("*.crt", "certificate"),
    ("*.pem", "certificate or key"),
    ("*.csr", "certificate request"),
    ("*.p12", "key store"),
    ("*.pfx", "key store"),
    ("*.jks", "key store"),
    ("*token*", "token"),
    ("*/cred/*", "credentials"),
    ("*/credentials/*", "credentials"),
    ("*credentials*", "credentials"),
    ("*/secrets/*", "secrets"),
    ("/var/lib/kubelet/pods/*", "pod volumes (may hold secrets)"),
    ("*/.docker/config.json", "registry credentials"),
    ("*/containers/auth.json", "registry credentials"),
    ("*/.netrc", "credentials"),
    ("/etc/shadow*", "password hashes"),
    ("/etc/gshadow*", "password hashes"),
    ("/etc/ssh/*", "host keys"),
    ("*/.ssh/*", "SSH keys"),
    ("*/known_tokens.csv", "tokens"),
    ("*/basic_auth.csv", "passwords"),
    ("/var/lib/etcd/*", "cluster data"),
)

#: Keys whose values are credentials, compared case-insensitively with ``-`` and ``_`` removed
#: (``identity_token``, ``identitytoken`` and ``identityToken`` are one key).
CREDENTIAL_KEYS = frozenset(
    {
        "password",
        "passwd",
        "auth",
        "auths",
        "authorization",
        "identitytoken",
        "registrytoken",
        "token",
        "agenttoken",
        "servertoken",
        "bootstraptoken",
        "discoverytoken",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "sessiontoken",
        "bearertoken",
        "tokensecret",
        "secret",
        "clientsecret",
        "clientkeydata",
        "clientcertificatedata",
        "apikey",
        "accesskey",
        "secretkey",
        "awssecretaccesskey",
        "awsaccesskeyid",
        "privatekey",
        "certkey",
        "certificatekey",
        "encryptionkey",
    }
)

_KEY_VALUE = re.compile(
    r"""^(?P<lead>\s*(?:-\s+)?)(?P<q>["']?)(?P<key>[A-Za-z0-9_.\-]+)(?P=q)(?P<sep>\s*[=:]\s*)
        (?P<rest>.*)$""",
    re.VERBOSE,
)
_FLAG = re.compile(
    r"(?<![^\s\"'=])(?P<flag>--?(?P<name>[A-Za-z0-9][A-Za-z0-9_\-]*))(?P<sep>=|\s+)(?P<value>\S+)"
)
#: ``"key": "value"`` / ``key = 'value'`` anywhere in a line (JSON, TOML inline tables).
#: A key starts where a run of key characters does (a match cannot start inside one: the
#: rest of a run that failed fails too), so a long word costs linear time, not quadratic.
_INLINE_PAIR = re.compile(
    r"""(?P<kq>["']?)(?<![A-Za-z0-9_\-])(?P<key>[A-Za-z0-9_\-]+)(?P=kq)(?P<sep>\s*[=:]\s*)"""
    r"""(?P<vq>["'])"""
    # A backslash is only ever an escape: two ways to read one backtrack exponentially.
    r"""(?P<value>(?:\\.|(?!(?P=vq))[^\\])*)(?P=vq)"""
)
#: kubeadm bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}
_BOOTSTRAP_TOKEN = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")
_AUTH_HEADER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=\-]{16,}")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")


def withheld_reason(path: str) -> str | None:
    """Why ``path`` must not be collected, or ``None`` when it may be (after redaction)."""
    for pattern, reason in WITHHELD:
        if fnmatch.fnmatchcase(path, pattern):
            return reason
    return None


def _is_credential_key(key: str) -> bool:
    last = key.lower().rsplit(".", 1)[-1].replace("-", "").replace("_", "")
    return last in CREDENTIAL_KEYS


def _redact_value(value: str) -> str:
    """The value with its content replaced, keeping its quoting (so the file still parses)."""
    stripped = value.strip()
    if not stripped or stripped in ("{", "[", "|", ">", "{}", "[]", '""', "''"):
        return value
    if stripped[0] in "\"'" and stripped[-1] == stripped[0] and len(stripped) >= 2:
        return f"{stripped[0]}{REDACTED}{stripped[0]}"
    if stripped[0] == "{" or stripped[0] == "[":
        # Inline table / flow mapping holding credentials: keep it a valid empty one.
        return "{}" if stripped[0] == "{" else "[]"
    return REDACTED


def _value_end(rest: str) -> int:
    """Where the value ends in what follows a key's separator: before the blanks, one comma
    and blanks that end the line (kept as they are), found from the end in linear time.

    >>> [_value_end(r) for r in ("abc , ", "a,,", "  ", "'x',")]
    [3, 2, 0, 3]
    """
    end = len(rest.rstrip())
    if end and rest[end - 1] == ",":
        end = len(rest[: end - 1].rstrip())
    return end


def redact_line(line: str) -> str:
    m = _KEY_VALUE.match(line)
    if m and _is_credential_key(m.group("key")):
        rest = m.group("rest")
        cut = _value_end(rest)
        new_value = _redact_value(rest[:cut])
        line = f"{m.group('lead')}{m.group('q')}{m.group('key')}{m.group('q')}{m.group('sep')}"
        line += new_value + rest[cut:]

    def flag(fm: re.Match[str]) -> str:
        if _is_credential_key(fm.group("name")):
            return f"{fm.group('flag')}{fm.group('sep')}{REDACTED}"
        return fm.group(0)

    def pair(pm: re.Match[str]) -> str:
        if not _is_credential_key(pm.group("key")) or pm.group("value") == REDACTED:
            return pm.group(0)
        key = f"{pm.group('kq')}{pm.group('key')}{pm.group('kq')}"
        quote = pm.group("vq")
        return f"{key}{pm.group('sep')}{quote}{REDACTED}{quote}"

    # Each pattern only where it can match (an inline pair needs a quote, a header the word
    # Bearer): a 100,000-line mount table has neither, and the two cost 1.4 s of its 2.5 s.
    if '"' in line or "'" in line:
        line = _INLINE_PAIR.sub(pair, line)
    line = _FLAG.sub(flag, line)
    line = _BOOTSTRAP_TOKEN.sub(REDACTED, line)
    if "Bearer" in line:
        line = _AUTH_HEADER.sub(lambda am: f"{am.group(1)} {REDACTED}", line)
    return line


def redact_text(text: str) -> tuple[str, list[int]]:
    """``text`` with credentials redacted, and the 1-based numbers of the lines changed.

    Line count and line endings are kept, so evidence line numbers stay true.
    """
    out: list[str] = []
    changed: list[int] = []
    in_key = False
    for lineno, line in enumerate(text.splitlines(keepends=True), 1):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if in_key or _PEM_BEGIN.search(body):
            new = REDACTED if body.strip() else body
            in_key = not _PEM_END.search(body)
        else:
            new = redact_line(body)
        if new != body:
            changed.append(lineno)
        out.append(new + ending)
    return "".join(out), changed


def redact_argv(argv: list[str]) -> list[str]:
    """A command line (``/proc/<pid>/cmdline`` fields) with credential flag values redacted:
    ``--token=X`` and ``--token X``."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-"):
            name, eq, _ = arg.lstrip("-").partition("=")
            if _is_credential_key(name):
                if eq:
                    out.append(arg.split("=", 1)[0] + "=" + REDACTED)
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(_BOOTSTRAP_TOKEN.sub(REDACTED, arg))
    return out
