from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "cargo"
RUNTIME, DEV, BUILD, OPTIONAL = (
    DependencyType.RUNTIME,
    DependencyType.DEVELOPMENT,
    DependencyType.BUILD,
    DependencyType.OPTIONAL,
)


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_cargo_toml_reads_every_table_of_a_workspace_root() -> None:
    result = parse_file(FIXTURES / "workspace" / "Cargo.toml", display_path="Cargo.toml")

    assert summary(result) == {
        "anyhow": ("1.0.80", RUNTIME, True),
        "serde": ("1.0.197", RUNTIME, True),
        "tokio": ("1.36", OPTIONAL, True),
        "clap": ("4.5.1", RUNTIME, True),
        "serde_json": ("1.0.114", RUNTIME, True),
        "futures": ("0.1.31", RUNTIME, True),
        "mimalloc": ("0.1.39", OPTIONAL, True),
        "log": ("0.4.21", RUNTIME, True),
        "criterion": ("0.5", DEV, True),
        "tempfile": ("3.10", DEV, True),
        "regex": ("1.10", DEV, True),
        "cc": ("1.0.90", BUILD, True),
        "windows-sys": ("0.52", RUNTIME, True),
        "libc": ("0.2.153", RUNTIME, True),
        "procfs": ("0.16", DEV, True),
        "winres": ("0.1.12", BUILD, True),
        # Declared for the workspace and used by no table in this file.
        "tracing": ("0.1.40", RUNTIME, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.CARGO}
    assert {d.manifest_path for d in result.dependencies} == {"Cargo.toml"}


def test_cargo_toml_skips_path_git_and_other_registry_crates() -> None:
    result = parse_file(FIXTURES / "workspace" / "Cargo.toml")

    assert sorted(result.skipped) == [
        "internal-metrics (registry acme)",
        "searcher-core (path crates/core)",
        "zlib-rs (git https://github.com/example/zlib-rs)",
    ]


def test_cargo_toml_member_cannot_see_the_workspace_versions() -> None:
    path = FIXTURES / "workspace" / "crates" / "core" / "Cargo.toml"

    result = parse_file(path, display_path="crates/core/Cargo.toml")

    assert summary(result) == {
        "memchr": ("2.7.1", RUNTIME, True),
        "serde": ("*", RUNTIME, True),
        "tokio": ("*", DEV, True),
    }


def test_cargo_toml_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    manifest = tmp_path / "Cargo.toml"
    text = '[package]\nname = "x"\n\n[dependencies]\nrand = "0.8.5"\n'
    manifest.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    assert summary(parse_file(manifest)) == {"rand": ("0.8.5", RUNTIME, True)}


def test_cargo_toml_duplicate_spellings_collapse_to_the_strongest_type() -> None:
    text = '[dev-dependencies]\nserde_json = "1"\n\n[dependencies]\nserde-json = "1.0.1"\n'

    result = parse_text("Cargo.toml", text)

    assert [(d.name, d.requirement, d.dependency_type) for d in result.dependencies] == [
        ("serde-json", "1.0.1", RUNTIME)
    ]


def test_cargo_toml_dependency_without_a_version_is_unpinned() -> None:
    text = '[dependencies]\nbytes = { features = ["serde"] }\n'

    assert summary(parse_text("Cargo.toml", text)) == {"bytes": ("*", RUNTIME, True)}


def test_cargo_lock_lists_registry_crates_but_not_workspace_members() -> None:
    result = parse_file(FIXTURES / "workspace" / "Cargo.lock", display_path="Cargo.lock")

    assert summary(result) == {
        "aho-corasick": ("1.1.2", RUNTIME, False),
        "anyhow": ("1.0.80", RUNTIME, False),
        "memchr": ("2.7.1", RUNTIME, False),
        # Two versions of one crate are one dependency; the first listed stays.
        "syn": ("1.0.109", RUNTIME, False),
    }
    assert result.skipped == [
        "zlib-rs (git+https://github.com/example/zlib-rs?branch=main"
        "#8f3c2a1d9e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a)"
    ]


def test_cargo_lock_version_1_with_metadata_checksums() -> None:
    result = parse_file(FIXTURES / "lock-v1" / "Cargo.lock")

    assert summary(result) == {
        "bitflags": ("1.0.4", RUNTIME, False),
        "libc": ("0.2.43", RUNTIME, False),
    }


@pytest.mark.parametrize("name", ["Cargo.toml", "Cargo.lock"])
def test_cargo_empty_file_has_no_dependencies(name: str) -> None:
    result = parse_text(name, "")

    assert result.dependencies == []
    assert result.skipped == []


def test_cargo_toml_broken_toml_names_the_line() -> None:
    text = '[package]\nname = "x"\n\n[dependencies]\nserde = "1.0\n'

    with pytest.raises(ManifestError) as caught:
        parse_text("crates/x/Cargo.toml", text)

    assert caught.value.line == 5
    assert caught.value.path == "crates/x/Cargo.toml"
    assert str(caught.value).startswith("crates/x/Cargo.toml:5: ")


def test_cargo_toml_dependency_that_is_neither_string_nor_table_is_an_error() -> None:
    with pytest.raises(ManifestError, match=r"dependencies\.serde: expected"):
        parse_text("Cargo.toml", "[dependencies]\nserde = 1\n")


def test_cargo_lock_package_without_a_version_is_an_error() -> None:
    with pytest.raises(ManifestError, match=r"package\[0\]"):
        parse_text("Cargo.lock", '[[package]]\nname = "serde"\n')
