"""wump's purl fast path builds exactly what packageurl-python builds."""

import random
import string

import pytest
from packageurl import PackageURL

from wump.ingest.identity import Ecosystem, PackageIdentity, purl_of

_AWKWARD = [
    ("npm", "@types/node"),
    ("pypi", "Flask_SQLAlchemy"),
    ("pypi", "zope.interface"),
    ("cargo", "serde_json"),
    ("golang", "github.com/Stretchr/testify"),
    ("golang", "gopkg.in/yaml.v3"),
    ("maven", "org.slf4j:slf4j-api"),
    ("maven", "com.google.guava:guava"),
    ("nuget", "Newtonsoft.Json"),
    ("composer", "symfony/console"),
    ("gem", "rails"),
    ("gem", "Ruby+Weird"),
    ("github", "actions/checkout"),
    ("npm", "a~b"),
    ("pypi", "name with space"),
]


def _components(count: int) -> list[tuple[Ecosystem, str | None, str]]:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "._-~+@%:"
    plain = string.ascii_lowercase + string.digits + "._-"

    def word(chars: str) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(1, 10)))

    cases = []
    for _ in range(count):
        chars = plain if rng.random() < 0.6 else alphabet
        namespace = None
        if rng.random() < 0.5:
            namespace = "/".join(word(chars) for _ in range(rng.randint(1, 3)))
        cases.append((rng.choice(list(Ecosystem)), namespace, word(chars)))
    return cases


@pytest.mark.parametrize(("ecosystem", "namespace", "name"), _components(600))
def test_fast_purl_equals_packageurl(
    ecosystem: Ecosystem, namespace: str | None, name: str
) -> None:
    expected = PackageURL(type=ecosystem.value, namespace=namespace, name=name).to_string()
    assert purl_of(ecosystem, namespace, name) == expected


@pytest.mark.parametrize(("ecosystem", "name"), _AWKWARD)
def test_identities_of_awkward_names_use_the_registry_rules(ecosystem: str, name: str) -> None:
    identity = PackageIdentity.of(ecosystem, name)
    parsed = PackageURL.from_string(identity.purl)
    again = PackageIdentity.from_purl(identity.purl)
    assert (again.purl, again.normalized_name) == (identity.purl, identity.normalized_name)
    assert parsed.type == identity.ecosystem.value


def test_plain_names_take_the_fast_path_and_others_do_not() -> None:
    assert purl_of(Ecosystem.PYPI, None, "requests") == "pkg:pypi/requests"
    assert purl_of(Ecosystem.GOLANG, "github.com/stretchr", "testify") == (
        "pkg:golang/github.com/stretchr/testify"
    )
    assert purl_of(Ecosystem.NPM, "@types", "node") == "pkg:npm/%40types/node"
    assert purl_of(Ecosystem.PYPI, None, "a_b") == "pkg:pypi/a-b"
    assert purl_of(Ecosystem.NUGET, None, "Newtonsoft.Json") == "pkg:nuget/Newtonsoft.Json"
