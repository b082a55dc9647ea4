"""GitHub Actions workflows and composite actions.

Every `uses: owner/repo[/path]@ref`, in a step or as a reusable-workflow job, is a
dependency on the repository `owner/repo` at `ref`. Actions only run in CI, so they
are build dependencies. Local actions (`./...`) and Docker images are skipped.
"""

from collections.abc import Iterator
from typing import Any

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_yaml
from wump.models.enums import DependencyType


def parse_workflow(path: str, text: str) -> ParseResult:
    document = load_yaml(path, text)
    if document is None:
        return ParseResult()
    if not isinstance(document, dict):
        raise ManifestError(path, "expected a mapping at the top level")
    result = ParseResult()
    deps: list[ParsedDependency] = []
    for uses in _uses(document):
        if not isinstance(uses, str) or not uses.strip():
            continue
        found = _dependency(path, uses.strip())
        if isinstance(found, str):
            result.skipped.append(found)
        else:
            deps.append(found)
    result.dependencies = collapse(deps)
    return result


def _uses(document: dict[Any, Any]) -> Iterator[object]:
    """Every `uses:` of a workflow's jobs and steps, or of a composite action's steps."""
    jobs = document.get("jobs")
    for job in jobs.values() if isinstance(jobs, dict) else ():
        if isinstance(job, dict):
            yield job.get("uses")
            yield from _step_uses(job.get("steps"))
    runs = document.get("runs")
    if isinstance(runs, dict):
        yield from _step_uses(runs.get("steps"))


def _step_uses(steps: object) -> Iterator[object]:
    if isinstance(steps, list):
        yield from (step.get("uses") for step in steps if isinstance(step, dict))


def _dependency(path: str, uses: str) -> ParsedDependency | str:
    """The repository an action reference points to, or why it is skipped."""
    if uses.startswith(("./", "../")):
        return f"{uses} (in this repository)"
    if uses.startswith("docker://"):
        return f"{uses} (Docker image)"
    target, _, ref = uses.partition("@")
    parts = target.split("/")
    if "${{" in uses or len(parts) < 2 or not all(parts[:2]):
        return f"{uses} (not an owner/repo reference)"
    return ParsedDependency(
        ecosystem=Ecosystem.GITHUB,
        name=f"{parts[0]}/{parts[1]}",
        requirement=ref or "*",
        dependency_type=DependencyType.BUILD,
        is_direct=True,
        manifest_path=path,
    )


PARSERS: tuple[Parser, ...] = (
    Parser(
        "GitHub Actions",
        Ecosystem.GITHUB,
        ("action.yml", "action.yaml"),
        parse_workflow,
        path_patterns=(".github/workflows/*.yml", ".github/workflows/*.yaml"),
    ),
)
