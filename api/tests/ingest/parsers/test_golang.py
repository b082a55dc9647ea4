from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "golang"
RUNTIME, DEV = DependencyType.RUNTIME, DependencyType.DEVELOPMENT


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_go_mod_reads_requires_replaces_and_tools() -> None:
    result = parse_file(FIXTURES / "go.mod", display_path="go.mod")

    assert summary(result) == {
        "github.com/google/uuid": ("v1.6.0", RUNTIME, True),
        "github.com/go-chi/chi/v5": ("v5.0.12", RUNTIME, True),
        "github.com/jackc/pgx/v5": ("v5.5.5", RUNTIME, True),
        "github.com/stretchr/testify": ("v1.9.0", RUNTIME, True),
        # The rule for v1.2.0 wins over the one for every version.
        "github.com/new/logger": ("v1.3.1", RUNTIME, True),
        # Its replace names another version, so it does not apply.
        "github.com/sirupsen/logrus": ("v1.9.3", RUNTIME, True),
        "gopkg.in/yaml.v3": ("v3.0.1", RUNTIME, False),
        "github.com/davecgh/go-spew": ("v1.1.2-0.20180830191138-d8f796af33cc", RUNTIME, False),
        "github.com/jackc/puddle/v2": ("v2.2.1", RUNTIME, False),
        "github.com/golang/protobuf": ("v1.5.4+incompatible", RUNTIME, False),
        # Modules that provide `tool` packages are needed for development only.
        "go.uber.org/mock": ("v0.4.0", DEV, True),
        "golang.org/x/tools": ("v0.21.0", DEV, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.GOLANG}


def test_go_mod_replacement_by_a_directory_is_skipped() -> None:
    result = parse_file(FIXTURES / "go.mod")

    assert result.skipped == ["github.com/acme/shared (replaced by local directory ../shared)"]
    assert "github.com/acme/shared" not in summary(result)


def test_go_mod_excluded_and_replaced_only_modules_are_not_dependencies() -> None:
    names = summary(parse_file(FIXTURES / "go.mod"))

    assert "github.com/some/fork" not in names
    assert "github.com/not/required" not in names
    assert "github.com/old/logger" not in names


def test_go_mod_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    manifest = tmp_path / "go.mod"
    text = "module example.com/x\n\ngo 1.22\n\nrequire (\n\tgithub.com/a/b v1.0.0 // indirect\n)\n"
    manifest.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    assert summary(parse_file(manifest)) == {"github.com/a/b": ("v1.0.0", RUNTIME, False)}


def test_go_mod_repeated_require_collapses_and_stays_direct() -> None:
    text = (
        "module example.com/x\n\n"
        "require github.com/a/b v1.0.0 // indirect\n"
        "require github.com/a/b v1.0.0\n"
    )

    result = parse_text("go.mod", text)

    assert summary(result) == {"github.com/a/b": ("v1.0.0", RUNTIME, True)}


def test_go_mod_unclosed_block_names_its_line() -> None:
    text = "module example.com/x\n\nrequire (\n\tgithub.com/a/b v1.0.0\n"

    with pytest.raises(ManifestError) as caught:
        parse_text("go.mod", text)

    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("require github.com/a/b", "usage: require"),
        ("replace github.com/a/b v1.0.0", "usage: replace"),
        ("replace => github.com/a/b v1.0.0", "usage: replace"),
        (")", "closes no block"),
    ],
)
def test_go_mod_malformed_directive_is_an_error(line: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as caught:
        parse_text("go.mod", f"module example.com/x\n\ngo 1.22\n{line}\n")

    assert caught.value.line == 4


def test_go_sum_keeps_the_highest_downloaded_version_of_each_module() -> None:
    result = parse_file(FIXTURES / "go.sum", display_path="go.sum")

    assert summary(result) == {
        # A pseudo-version of v1.1.2 sorts after the v1.1.1 release.
        "github.com/davecgh/go-spew": ("v1.1.2-0.20180830191138-d8f796af33cc", RUNTIME, False),
        "github.com/go-chi/chi/v5": ("v5.0.12", RUNTIME, False),
        "github.com/google/uuid": ("v1.6.0", RUNTIME, False),
        "github.com/stretchr/testify": ("v1.9.0", RUNTIME, False),
        "golang.org/x/tools": ("v0.21.1-0.20240508182429-e35e4ccd0d2d", RUNTIME, False),
        "gopkg.in/yaml.v3": ("v3.0.1", RUNTIME, False),
        "github.com/golang/protobuf": ("v1.10.0+incompatible", RUNTIME, False),
    }


def test_go_sum_module_with_only_a_go_mod_hash_is_not_a_dependency() -> None:
    assert "github.com/kr/pretty" not in summary(parse_file(FIXTURES / "go.sum"))


def test_go_sum_line_without_a_hash_is_an_error() -> None:
    text = "github.com/a/b v1.0.0 h1:abc=\ngithub.com/c/d v1.0.0\n"

    with pytest.raises(ManifestError) as caught:
        parse_text("go.sum", text)

    assert caught.value.line == 2


@pytest.mark.parametrize("name", ["go.mod", "go.sum"])
def test_go_empty_file_has_no_dependencies(name: str) -> None:
    assert parse_text(name, "\n").dependencies == []
