from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "composer"
RUNTIME, DEV = DependencyType.RUNTIME, DependencyType.DEVELOPMENT


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_composer_json_reads_require_and_require_dev_without_platform_packages() -> None:
    result = parse_file(FIXTURES / "composer.json", display_path="composer.json")

    assert summary(result) == {
        "guzzlehttp/guzzle": ("^7.8", RUNTIME, True),
        "laravel/framework": ("^11.0", RUNTIME, True),
        "laravel/sanctum": ("^4.0", RUNTIME, True),
        "acme/payments": ("dev-main", RUNTIME, True),
        # Also in require-dev with another spelling; Packagist names ignore case.
        "Monolog/Monolog": ("^3.5", RUNTIME, True),
        "fakerphp/faker": ("^1.23", DEV, True),
        "mockery/mockery": ("^1.6", DEV, True),
        "phpunit/phpunit": ("^11.0.1", DEV, True),
        "laravel/pint": ("^1.13", DEV, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.COMPOSER}
    assert {d.manifest_path for d in result.dependencies} == {"composer.json"}


def test_composer_json_empty_sections_written_as_lists_are_empty() -> None:
    text = '{"name": "acme/tool", "require": [], "require-dev": {}}'

    assert parse_text("composer.json", text).dependencies == []


def test_composer_json_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    manifest = tmp_path / "composer.json"
    text = '{\n    "require": {\n        "php": ">=8.1",\n        "psr/log": "^3.0"\n    }\n}\n'
    manifest.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    assert summary(parse_file(manifest)) == {"psr/log": ("^3.0", RUNTIME, True)}


def test_composer_lock_reads_packages_and_dev_packages_as_indirect() -> None:
    result = parse_file(FIXTURES / "composer.lock", display_path="composer.lock")

    assert summary(result) == {
        "guzzlehttp/guzzle": ("7.8.1", RUNTIME, False),
        "guzzlehttp/promises": ("2.0.2", RUNTIME, False),
        "laravel/framework": ("v11.0.7", RUNTIME, False),
        "monolog/monolog": ("3.5.0", RUNTIME, False),
        "phpunit/phpunit": ("11.0.4", DEV, False),
        "sebastian/diff": ("6.0.1", DEV, False),
    }
    assert result.skipped == ["acme/payments (path ../payments)"]


def test_composer_lock_without_dev_packages() -> None:
    text = '{"packages": [{"name": "psr/log", "version": "3.0.0"}], "packages-dev": null}'

    assert summary(parse_text("composer.lock", text)) == {"psr/log": ("3.0.0", RUNTIME, False)}


@pytest.mark.parametrize("name", ["composer.json", "composer.lock"])
def test_composer_empty_file_has_no_dependencies(name: str) -> None:
    assert parse_text(name, "").dependencies == []


def test_composer_json_broken_json_names_the_line() -> None:
    text = '{\n    "require": {\n        "psr/log": "^3.0",\n    }\n}\n'

    with pytest.raises(ManifestError) as caught:
        parse_text("composer.json", text)

    assert caught.value.line == 4


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("composer.json", '["psr/log"]', "JSON object"),
        ("composer.json", '{"require": {"psr/log": 3}}', "require.psr/log"),
        ("composer.json", '{"require": "psr/log"}', "require: expected an object"),
        ("composer.lock", '{"packages": {"psr/log": "3.0.0"}}', "packages: expected a list"),
        ("composer.lock", '{"packages": [{"name": "psr/log"}]}', r"packages\[0\]"),
    ],
)
def test_composer_malformed_document_is_an_error(name: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_text(name, text)
