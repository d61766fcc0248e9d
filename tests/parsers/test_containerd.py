"""The containerd TOML parser: values, and the line of every table and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.parsers import ParseError
from nodedoctor.parsers.containerd import (
    locate_lines,
    parse_containerd_config,
    render_k3s_template,
    split_key,
)

ROOTS = Path(__file__).parent.parent / "roots"
CRI = "io.containerd.grpc.v1.cri"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a.b.c = 1", ("a", "b", "c")),
        ('plugins."io.containerd.grpc.v1.cri" ]', ("plugins", CRI)),
        (
            "plugins.'io.containerd.cri.v1.runtime'.x",
            ("plugins", "io.containerd.cri.v1.runtime", "x"),
        ),
        ('a . "b.c" . d = 1', ("a", "b.c", "d")),
        ('"quoted \\"key\\"" = 1', ('quoted "key"',)),
        ("bare-key_1 = 2", ("bare-key_1",)),
    ],
)
def test_split_key(text: str, parts: tuple[str, ...]) -> None:
    assert split_key(text)[0] == parts


def test_lines_skip_multiline_values_and_track_tables() -> None:
    text = (
        "version = 2\n"
        "imports = [\n"
        '  "/etc/containerd/conf.d/*.toml",\n'
        "  # [not.a.table]\n"
        "]\n"
        'note = """\n'
        "[still.a.string]\n"
        'fake = "x"\n'
        '"""\n'
        f'[plugins."{CRI}".containerd.runtimes.runc]\n'
        '  runtime_type = "io.containerd.runc.v2"\n'
        "  options = { SystemdCgroup = true, BinaryName = '' }\n"
        "[plugins.'io.containerd.cri.v1.runtime'.containerd]\n"
        "  runtimes.kata.runtime_type = 'io.containerd.kata.v2'\n"
    )
    cfg = parse_containerd_config(text)
    lines, headers = locate_lines(text)
    assert ("still", "a", "string") not in lines
    assert ("fake",) not in lines
    runc = ("plugins", CRI, "containerd", "runtimes", "runc")
    assert lines[runc].line == 10
    assert headers >= {runc}
    runtime_type = (*runc, "runtime_type")
    assert lines[runtime_type].line == 11
    # a key inside an inline table: the line of the key holding it
    assert cfg.locate((*runc, "options", "SystemdCgroup")).line == 12  # type: ignore[union-attr]
    assert cfg.get((*runc, "options", "SystemdCgroup")) is True
    kata = ("plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes", "kata")
    assert cfg.locate((*kata, "runtime_type")).line == 14  # type: ignore[union-attr]
    # an implicit super-table is placed at its first header
    assert cfg.locate(("plugins", CRI)).line == 10  # type: ignore[union-attr]


def test_malformed_toml_has_its_line() -> None:
    with pytest.raises(ParseError) as err:
        parse_containerd_config('version = 2\n[plugins."x"]\n  SystemdCgroup = tru\n')
    assert err.value.line == 3


def test_duplicate_table_is_an_error() -> None:
    with pytest.raises(ParseError):
        parse_containerd_config("[a]\nx = 1\n[a]\ny = 2\n")


def test_real_config_default_lines() -> None:
    """The committed output of the real `containerd config default` (Debian 1.6.20)."""
    path = ROOTS / "kubeadm-ubuntu22-containerd-default/root/etc/containerd/config.toml"
    text = path.read_text()
    cfg = parse_containerd_config(text)
    key = ("plugins", CRI, "containerd", "runtimes", "runc", "options", "SystemdCgroup")
    where = cfg.locate(key)
    assert where is not None
    assert where.text == "SystemdCgroup = false"
    assert text.splitlines()[where.line - 1].strip() == "SystemdCgroup = false"
    legacy = cfg.locate(("plugins", CRI, "systemd_cgroup"))
    assert legacy is not None
    assert text.splitlines()[legacy.line - 1].strip() == "systemd_cgroup = false"
    assert cfg.version == 2

    # every key tomlkit sees has a line of its own or of its table
    def walk(node: object, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        assert cfg.locate(path) is not None or not path, path

    walk(cfg.data, ())


def test_k3s_template_keeps_line_numbers() -> None:
    tmpl = (
        '{{ template "base" . }}\n'
        "{{ if .NodeConfig.AgentConfig.Snapshotter }}\n"
        '[plugins."io.containerd.grpc.v1.cri".containerd]\n'
        '  snapshotter = "{{ .NodeConfig.AgentConfig.Snapshotter }}"\n'
        "{{ end }}\n"
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "  SystemdCgroup = {{ .SystemdCgroup }}\n"
    )
    text, base = render_k3s_template(tmpl, {"SystemdCgroup": "false"})
    assert base == 1
    cfg = parse_containerd_config(text)
    runc = ("plugins", CRI, "containerd", "runtimes", "runc", "options", "SystemdCgroup")
    assert cfg.get(runc) is False
    assert cfg.locate(runc).line == 7  # type: ignore[union-attr]
    snap = ("plugins", CRI, "containerd", "snapshotter")
    assert cfg.get(snap) == "{{ .NodeConfig.AgentConfig.Snapshotter }}"
    _, none = render_k3s_template("version = 2\n", {})
    assert none is None
