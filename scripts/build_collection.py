#!/usr/bin/env python3
"""Build the Ansible collection tarball with nodedoctor inside it.

    python3 scripts/build_collection.py [--output-dir dist]

Copies the collection's files (git's tracked and new ones) to a staging directory, builds the
single-file nodedoctor there as ``files/nodedoctor.pyz`` (scripts/build_zipapp.py), and runs
``ansible-galaxy collection build``. The tarball (``dist/nodedoctor-node-VERSION.tar.gz``)
then needs no checkout: ``ansible-galaxy collection install`` it, and the modules copy the
shipped ``nodedoctor.pyz`` to each target. Prints the tarball's path.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTION = Path("ansible_collections/nodedoctor/node")


def stage(dest: Path) -> Path:
    """Copy the collection's files under ``dest``; the staged collection's path."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", str(COLLECTION)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest / COLLECTION


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    galaxy = shutil.which("ansible-galaxy", path=str(Path(sys.executable).parent))
    galaxy = galaxy or shutil.which("ansible-galaxy")
    if galaxy is None:
        raise SystemExit("ansible-galaxy not found (pip install ansible-core)")
    with tempfile.TemporaryDirectory(prefix="nodedoctor-collection-") as tmp:
        staged = stage(Path(tmp))
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts/build_zipapp.py"),
                str(staged / "files/nodedoctor.pyz"),
            ],
            check=True,
        )
        subprocess.run(
            [galaxy, "collection", "build", "--force", "--output-path", str(output_dir)],
            cwd=staged,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    built = sorted(output_dir.glob("nodedoctor-node-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not built:
        raise SystemExit(f"ansible-galaxy wrote no tarball into {output_dir}")
    return built[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    print(build(args.output_dir.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
