"""The parsers' bounds (nodedoctor.parsers.limits, nodedoctor.parsers.yamldoc) change nothing
for real files, and a failed parse is kept like a good one: each file is parsed once per run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nodedoctor.facts import Facts
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.limits import check_json_depth, check_toml_bounds
from nodedoctor.parsers.yamldoc import compose
from nodedoctor.sources.root import directory_root
from tests.robustness.seeds import seed_files

REPO = Path(__file__).resolve().parents[2]
#: What real configs rarely hold but YAML allows: anchors, aliases and merge keys, tags,
#: complex keys, block scalars, an empty document.
YAML_FORMS = (
    "base: &base {cpu: 1, memory: 2Gi}\nnode:\n  <<: *base\n  cpu: 2\nlist: [*base, *base]\n",
    "- &a !!str 1\n- *a\n- ? [complex, key]\n  : value\n- !!binary aGVsbG8=\n",
    "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\nempty:\nnull: ~\n",
    "",
    "# only a comment\n",
    "--- &doc\na: 1\n...\n",
)
#: The node files of the test roots, and every YAML file of the repository (case files,
#: manifests, the Ansible collection): real YAML, some with anchors and aliases.
YAML_FILES = sorted(
    {text for path, text in seed_files() if path.endswith((".yaml", ".yml", ".cfg"))}
    | set(YAML_FORMS)
    | {
        p.read_text(encoding="utf-8")
        for pattern in ("*.yaml", "*.yml")
        for p in REPO.rglob(pattern)
        if ".venv" not in p.parts
    }
)
TOML_FILES = sorted({text for path, text in seed_files() if path.endswith((".toml", ".conf"))})
JSON_FILES = sorted(
    p.read_text(encoding="utf-8") for p in REPO.rglob("*.json") if ".venv" not in p.parts
)


def _tree(node: yaml.Node | None, seen: dict[int, int] | None = None) -> object:
    """A node tree as plain values, aliases as references to their first occurrence."""
    seen = {} if seen is None else seen
    if node is None:
        return None
    if id(node) in seen:
        return ("alias", seen[id(node)])
    seen[id(node)] = len(seen)
    marks = (node.start_mark.line, node.start_mark.column, node.end_mark.line)
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, node.style, marks)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, [_tree(n, seen) for n in node.value], node.flow_style, marks)
    assert isinstance(node, yaml.MappingNode)
    pairs = [(_tree(k, seen), _tree(v, seen)) for k, v in node.value]
    return (node.tag, pairs, node.flow_style, marks)


@pytest.mark.parametrize("loader", ["SafeLoader", "CSafeLoader"])
def test_the_bounded_composer_builds_pyyamls_tree(loader: str) -> None:
    loader_class = getattr(yaml, loader, None)
    if loader_class is None:
        pytest.skip(f"PyYAML has no {loader} here")
    assert len(YAML_FILES) > 100
    compared = 0
    for text in YAML_FILES:
        theirs = loader_class(text)
        try:
            expected = _tree(theirs.get_single_node())
        except yaml.YAMLError:
            continue  # a seed that is not YAML (a cloud.cfg fragment): errors tested elsewhere
        finally:
            theirs.dispose()
        ours = loader_class(text)
        try:
            assert _tree(compose(ours)) == expected, text[:200]
        finally:
            ours.dispose()
        compared += 1
    with pytest.raises(yaml.composer.ComposerError, match="found undefined alias"):
        compose(loader_class("a: *nowhere\n"))
    with pytest.raises(yaml.composer.ComposerError, match="found duplicate anchor"):
        compose(loader_class("a: &x 1\nb: &x 2\n"))
    with pytest.raises(yaml.composer.ComposerError, match="expected a single document"):
        compose(loader_class("a: 1\n---\nb: 2\n"))
    assert compared > 100


def test_real_toml_and_json_are_within_the_bounds() -> None:
    assert TOML_FILES
    assert JSON_FILES
    for text in TOML_FILES:
        check_toml_bounds(text)
    for text in JSON_FILES:
        check_json_depth(text)


class _Counting:
    def __init__(self, raises: BaseException | None) -> None:
        self.calls = 0
        self.raises = raises

    def __call__(self, text: str) -> str:
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        return text


@pytest.mark.parametrize(
    ("raises", "message"),
    [
        (ParseError("nested deeper than 64", 2), "nested deeper than 64"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply to parse"),
        (MemoryError(), "too large to parse in the memory available"),
    ],
)
def test_a_failed_parse_is_recorded_once_and_kept(
    tmp_path: Path, raises: BaseException, message: str
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/config.yaml").write_text("x: 1\n", encoding="utf-8")
    facts = Facts(directory_root(str(tmp_path)))
    parser = _Counting(raises)
    for _ in range(10):  # ten rules asking
        assert facts.parse("/etc/config.yaml", parser) is None
    assert parser.calls == 1
    (problem,) = facts.parse_problems
    assert problem.path == "/etc/config.yaml"
    assert problem.message == message
