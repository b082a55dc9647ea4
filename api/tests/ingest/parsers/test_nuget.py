from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "nuget"
RUNTIME, DEV = DependencyType.RUNTIME, DependencyType.DEVELOPMENT


def project(item: str) -> str:
    """An SDK-style project file with one item, the item on line 3."""
    return (
        '<Project Sdk="Microsoft.NET.Sdk">\n'
        f"  <ItemGroup>\n    {item}\n  </ItemGroup>\n"
        "</Project>\n"
    )


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_csproj_reads_package_references_in_every_form() -> None:
    result = parse_file(FIXTURES / "Acme.Orders.Api.csproj", display_path="src/Api.csproj")

    assert summary(result) == {
        "Newtonsoft.Json": ("13.0.3", RUNTIME, True),
        # $(SerilogVersion) is a property of the same file.
        "Serilog.AspNetCore": ("8.0.1", RUNTIME, True),
        "Swashbuckle.AspNetCore": ("6.5.0", RUNTIME, True),
        # PrivateAssets="all": used to build the project, not passed on.
        "StyleCop.Analyzers": ("1.2.0-beta.556", DEV, True),
        "Microsoft.SourceLink.GitHub": ("8.0.0", DEV, True),
        "Polly": ("[8.2.0, 9.0)", RUNTIME, True),
        "Acme.Telemetry": ("$(AcmeTelemetryVersion)", RUNTIME, True),
        "System.Text.Json": ("8.0.3", RUNTIME, True),
        "Microsoft.AspNetCore.Mvc.Razor.RuntimeCompilation": ("8.0.4", RUNTIME, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.NUGET}
    assert {d.manifest_path for d in result.dependencies} == {"src/Api.csproj"}


def test_directory_packages_props_supplies_central_versions_in_the_same_file() -> None:
    result = parse_file(FIXTURES / "Directory.Packages.props")

    assert summary(result) == {
        "Nerdbank.GitVersioning": ("3.6.133", DEV, True),
        "Dapper": ("2.1.35", RUNTIME, True),
        "FluentAssertions": ("6.11.0", RUNTIME, True),
        "Microsoft.Extensions.Http": ("*", RUNTIME, True),
    }


def test_old_style_project_with_the_msbuild_namespace() -> None:
    result = parse_file(FIXTURES / "legacy" / "Acme.Legacy.csproj")

    assert summary(result) == {"log4net": ("2.0.15", RUNTIME, True)}


@pytest.mark.parametrize("name", ["App.fsproj", "App.vbproj"])
def test_fsproj_and_vbproj_are_project_files(name: str) -> None:
    text = project('<PackageReference Include="FSharp.Core" Version="8.0.200" />')

    assert summary(parse_text(name, text)) == {"FSharp.Core": ("8.0.200", RUNTIME, True)}


def test_csproj_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    manifest = tmp_path / "App.csproj"
    text = project('<PackageReference Include="Dapper" Version="2.1.35" />')
    manifest.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    assert summary(parse_file(manifest)) == {"Dapper": ("2.1.35", RUNTIME, True)}


def test_packages_config_marks_development_dependencies() -> None:
    result = parse_file(FIXTURES / "legacy" / "packages.config")

    assert summary(result) == {
        "Newtonsoft.Json": ("12.0.3", RUNTIME, True),
        "EntityFramework": ("6.4.4", RUNTIME, True),
        "Microsoft.CodeAnalysis.NetAnalyzers": ("8.0.0", DEV, True),
        "NUnit": ("3.14.0", RUNTIME, True),
    }


def test_packages_lock_json_merges_target_frameworks_and_drops_projects() -> None:
    result = parse_file(FIXTURES / "packages.lock.json")

    assert summary(result) == {
        "Newtonsoft.Json": ("13.0.3", RUNTIME, True),
        "Serilog.AspNetCore": ("8.0.1", RUNTIME, True),
        # Transitive for net8.0 but referenced directly for net6.0.
        "Serilog": ("3.1.1", RUNTIME, True),
        "System.Text.Json": ("8.0.3", RUNTIME, False),
    }
    assert result.skipped == []


@pytest.mark.parametrize(
    "name", ["App.csproj", "Directory.Packages.props", "packages.config", "packages.lock.json"]
)
def test_nuget_empty_file_has_no_dependencies(name: str) -> None:
    assert parse_text(name, "").dependencies == []


def test_csproj_broken_xml_names_the_line() -> None:
    text = project('<PackageReference Include="A" Version="1" >')

    with pytest.raises(ManifestError) as caught:
        parse_text("App.csproj", text)

    assert caught.value.line == 4


def test_csproj_entity_expansion_is_refused() -> None:
    text = '<!DOCTYPE Project [<!ENTITY v "1.0.0">]>\n' + project(
        '<PackageReference Include="A" Version="&v;" />'
    )

    with pytest.raises(ManifestError, match="refused"):
        parse_text("App.csproj", text)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("App.csproj", "<packages />", "not an MSBuild project"),
        ("packages.config", "<Project />", "not a packages.config"),
        ("packages.config", '<packages><package version="1.0" /></packages>', "needs an id"),
        ("packages.lock.json", '{"dependencies": ["net8.0"]}', "target frameworks"),
        ("packages.lock.json", '{"dependencies": {"net8.0": {"A": "1.0"}}}', "net8.0.A"),
        ("packages.lock.json", '{"version": 1,\n"dependencies": {,}}', "Expecting"),
    ],
)
def test_nuget_malformed_document_is_an_error(name: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_text(name, text)
