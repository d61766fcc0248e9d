"""Mutated bundles: opening one gives a root or a BundleError, never another exception, and
leaves no temporary directory behind; a check on what opens never crashes."""

from __future__ import annotations

import gzip
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor import engine
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import BundleError, open_bundle
from nodedoctor.sources.root import directory_root
from tests.robustness.conftest import CASES
from tests.robustness.seeds import TESTS


@lru_cache(maxsize=1)
def real_bundle() -> bytes:
    """A bundle collected from a scenario root of the test suite."""
    roots = sorted(TESTS.glob("roots/*/root"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "b.tar.gz")
        collect(directory_root(str(roots[0])), out)
        return Path(out).read_bytes()


@st.composite
def mutated_bundle(draw: st.DrawFn) -> bytes:
    """Either the gzip bytes are damaged, or the tar inside is (and re-compressed)."""
    inner = draw(st.booleans())
    data = bytearray(gzip.decompress(real_bundle()) if inner else real_bundle())
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(("flip", "insert", "delete", "truncate")))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 512))]
        elif len(data) > 1:
            del data[i:]
    return gzip.compress(bytes(data), compresslevel=1) if inner else bytes(data)


@settings(settings.get_profile("robustness"))
@given(data=mutated_bundle())
def test_mutated_bundle_opens_or_is_refused(data: bytes) -> None:
    CASES["bundles"] += 1
    with tempfile.TemporaryDirectory(prefix="nodedoctor-fuzz-") as tmp:
        path = os.path.join(tmp, "b.tar.gz")
        Path(path).write_bytes(data)
        watched = os.path.join(tmp, "t")
        os.mkdir(watched)
        saved, tempfile.tempdir = tempfile.tempdir, watched
        try:
            root = open_bundle(path)
        except BundleError:
            root = None
        finally:
            tempfile.tempdir = saved
        if root is not None:
            with root:
                report = engine.run(Facts(root), list(all_rules()))
                assert not [f for f in report.findings if f.rule == "internal-error"]
        assert os.listdir(watched) == []
