from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem, PackageIdentity
from wump.ingest.parsers import ManifestError, ParseResult, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "maven"
RUNTIME, TEST, BUILD, OPTIONAL = (
    DependencyType.RUNTIME,
    DependencyType.TEST,
    DependencyType.BUILD,
    DependencyType.OPTIONAL,
)
MINIMAL_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>demo</artifactId>
  <version>1.0.0</version>
  <dependencies>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>2.0.12</version>
    </dependency>
  </dependencies>
</project>
"""


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_pom_maps_scopes_resolves_properties_and_managed_versions() -> None:
    result = parse_file(FIXTURES / "pom.xml", display_path="pom.xml")

    assert summary(result) == {
        # The version comes from the parent POM, which this file does not contain.
        "org.springframework.boot:spring-boot-starter-web": ("*", RUNTIME, True),
        # A property defined through another property; the test-scope duplicate loses.
        "com.fasterxml.jackson.core:jackson-databind": ("2.17.0", RUNTIME, True),
        "com.google.guava:guava": ("33.1.0-jre", RUNTIME, True),
        "com.acme.orders:orders-api": ("1.8.0-SNAPSHOT", RUNTIME, True),
        "org.postgresql:postgresql": ("42.7.3", RUNTIME, True),
        "org.projectlombok:lombok": ("1.18.32", BUILD, True),
        "io.micrometer:micrometer-registry-prometheus": ("1.12.4", OPTIONAL, True),
        # Version and scope both come from <dependencyManagement>.
        "org.mockito:mockito-core": ("5.11.0", TEST, True),
        "org.testcontainers:postgresql": ("*", TEST, True),
        "org.junit.jupiter:junit-jupiter": ("[5.10,6.0)", TEST, True),
        "io.opentelemetry:opentelemetry-api": ("1.36.0", RUNTIME, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.MAVEN}


def test_pom_names_are_valid_maven_coordinates() -> None:
    result = parse_file(FIXTURES / "pom.xml")

    purls = {PackageIdentity.of(d.ecosystem, d.name).purl for d in result.dependencies}

    assert "pkg:maven/org.projectlombok/lombok" in purls


def test_pom_skips_system_scope_and_unresolvable_coordinates() -> None:
    result = parse_file(FIXTURES / "pom.xml")

    assert result.skipped == [
        "com.oracle:ojdbc (system scope)",
        "${internal.group}:audit-client (unresolved placeholder)",
    ]


def test_pom_bom_imports_and_plugins_are_not_dependencies() -> None:
    names = summary(parse_file(FIXTURES / "pom.xml"))

    assert "org.testcontainers:testcontainers-bom" not in names
    assert "org.ow2.asm:asm" not in names
    assert "org.jacoco:jacoco-maven-plugin" not in names


def test_pom_without_namespace_inherits_group_and_version_from_parent() -> None:
    result = parse_file(FIXTURES / "module" / "pom.xml", display_path="module/pom.xml")

    assert summary(result) == {
        "com.acme.orders:orders-core": ("1.8.0", RUNTIME, True),
        # Defined in a parent POM: kept as written.
        "info.picocli:picocli": ("${picocli.version}", RUNTIME, True),
        "org.slf4j:slf4j-simple": ("*", RUNTIME, True),
    }


def test_pom_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_bytes(b"\xef\xbb\xbf" + MINIMAL_POM.replace("\n", "\r\n").encode())

    assert summary(parse_file(pom)) == {"org.slf4j:slf4j-api": ("2.0.12", RUNTIME, True)}


def test_pom_empty_file_has_no_dependencies() -> None:
    assert parse_text("pom.xml", "\n").dependencies == []


def test_pom_broken_xml_names_the_line() -> None:
    broken = MINIMAL_POM.replace("</version>\n    </dependency>", "</versio>\n    </dependency>")

    with pytest.raises(ManifestError, match="mismatched tag") as caught:
        parse_text("pom.xml", broken)

    assert caught.value.line == 11


def test_pom_entity_expansion_is_refused() -> None:
    text = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE project [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
        "<project><artifactId>&lol2;</artifactId></project>\n"
    )

    with pytest.raises(ManifestError, match="refused"):
        parse_text("pom.xml", text)


def test_pom_external_entity_is_refused() -> None:
    text = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
        "<project><name>&secret;</name></project>\n"
    )

    with pytest.raises(ManifestError, match="refused"):
        parse_text("pom.xml", text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<settings><profiles/></settings>", "not a Maven POM"),
        (
            "<project><dependencies><dependency><groupId>a</groupId></dependency>"
            "</dependencies></project>",
            "artifactId",
        ),
    ],
)
def test_pom_that_is_not_a_valid_project_is_an_error(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_text("pom.xml", text)
