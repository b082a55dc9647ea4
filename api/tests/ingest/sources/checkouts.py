"""Fixture checkouts, copied into a temporary folder before use.

A repository cannot hold a `.git` folder (or, usefully, `.gitignore` files and
virtualenvs that its own ignore rules would hide) inside its test fixtures, so
the fixtures spell a leading dot as `dot-`: `dot-git/config` is `.git/config`.
"""

import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "checkouts"


def materialize(name: str, target: Path) -> Path:
    """Copy the fixture checkout `name` to `target/name` with its dot-names restored."""
    source = FIXTURES / name
    destination = target / name
    for path in sorted(source.rglob("*")):
        relative = Path(*(_undot(part) for part in path.relative_to(source).parts))
        if path.is_dir():
            (destination / relative).mkdir(parents=True, exist_ok=True)
        else:
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / relative)
    return destination


def _undot(part: str) -> str:
    return "." + part.removeprefix("dot-") if part.startswith("dot-") else part
