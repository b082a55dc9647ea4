from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem, PackageIdentity
from wump.ingest.parsers import ManifestError, ParseResult, detect, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "github"
WORKFLOWS = FIXTURES / ".github" / "workflows"
BUILD = DependencyType.BUILD


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_workflow_reads_step_actions_and_reusable_workflows() -> None:
    result = parse_file(WORKFLOWS / "ci.yml", display_path=".github/workflows/ci.yml")

    assert summary(result) == {
        "actions/checkout": ("v4", BUILD, True),
        "actions/setup-python": ("82c7e631bb3cdc910f68e0081d67478d79c6982d", BUILD, True),
        "actions/cache": ("v4", BUILD, True),
        # An action in a subdirectory belongs to the repository.
        "github/codeql-action": ("v3", BUILD, True),
        "Codecov/codecov-action": ("v4.1.0", BUILD, True),
        "acme/shared-workflows": ("v2", BUILD, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.GITHUB}
    assert {d.manifest_path for d in result.dependencies} == {".github/workflows/ci.yml"}


def test_workflow_skips_local_actions_and_docker_images() -> None:
    result = parse_file(WORKFLOWS / "ci.yml")

    assert result.skipped == [
        "./.github/actions/setup (in this repository)",
        "docker://ghcr.io/acme/test-runner:1.4 (Docker image)",
        "./.github/workflows/release-notes.yml (in this repository)",
    ]


def test_workflow_ref_with_a_slash_and_a_missing_ref() -> None:
    result = parse_file(WORKFLOWS / "release.yaml", display_path=".github/workflows/release.yaml")

    assert summary(result) == {
        "actions/checkout": ("v3", BUILD, True),
        "pypa/gh-action-pypi-publish": ("release/v1", BUILD, True),
        "softprops/action-gh-release": ("*", BUILD, True),
    }


def test_composite_action_reads_its_steps() -> None:
    result = parse_file(FIXTURES / "actions" / "setup" / "action.yml")

    assert summary(result) == {
        "actions/setup-python": ("v5", BUILD, True),
        "astral-sh/setup-uv": ("v3", BUILD, True),
    }


def test_action_names_are_valid_github_identities() -> None:
    result = parse_file(WORKFLOWS / "ci.yml")

    purls = {PackageIdentity.of(d.ecosystem, d.name).purl for d in result.dependencies}

    assert "pkg:github/codecov/codecov-action" in purls


@pytest.mark.parametrize(
    ("path", "is_workflow"),
    [
        (".github/workflows/ci.yml", True),
        ("repo/.github/workflows/nightly.yaml", True),
        (".github/actions/setup/action.yaml", True),
        ("config/ci.yml", False),
        (".github/dependabot.yml", False),
    ],
)
def test_workflow_files_are_recognised_by_path(path: str, is_workflow: bool) -> None:
    parser = detect(path)

    assert (parser is not None and parser.ecosystem is Ecosystem.GITHUB) is is_workflow


def test_workflow_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    workflow = tmp_path / "action.yml"
    text = "runs:\n  using: composite\n  steps:\n    - uses: actions/checkout@v4\n"
    workflow.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    assert summary(parse_file(workflow)) == {"actions/checkout": ("v4", BUILD, True)}


def test_workflow_expression_in_uses_is_skipped() -> None:
    text = "jobs:\n  a:\n    steps:\n      - uses: ${{ matrix.action }}\n      - run: make\n"

    result = parse_text(".github/workflows/a.yml", text)

    assert result.dependencies == []
    assert result.skipped == ["${{ matrix.action }} (not an owner/repo reference)"]


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_workflow_empty_file_has_no_dependencies(text: str) -> None:
    assert parse_text(".github/workflows/empty.yml", text).dependencies == []


def test_workflow_broken_yaml_names_the_line() -> None:
    text = "on: push\njobs:\n  build:\n    steps:\n      - uses: [actions/checkout@v4\n"

    with pytest.raises(ManifestError) as caught:
        parse_text(".github/workflows/ci.yml", text)

    assert caught.value.line == 6


def test_workflow_yaml_tags_are_never_constructed() -> None:
    text = "jobs: !!python/object/apply:os.system ['echo pwned']\n"

    with pytest.raises(ManifestError, match="python/object") as caught:
        parse_text(".github/workflows/ci.yml", text)

    assert caught.value.line == 1


def test_workflow_that_is_not_a_mapping_is_an_error() -> None:
    with pytest.raises(ManifestError, match="mapping"):
        parse_text(".github/workflows/ci.yml", "- uses: actions/checkout@v4\n")
