"""Package identity: one canonical purl per package, whatever spelling came in.

Each registry has its own idea of when two names are the same package; wump
follows it so that `Flask_SQLAlchemy` and `flask-sqlalchemy` are one package on
PyPI, while `github.com/Foo/bar` and `github.com/foo/bar` stay two Go modules.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from packageurl import PackageURL
from packaging.utils import canonicalize_name


class Ecosystem(StrEnum):
    """Supported ecosystems, named by their purl type."""

    PYPI = "pypi"
    NPM = "npm"
    CARGO = "cargo"
    GOLANG = "golang"
    GEM = "gem"
    MAVEN = "maven"
    NUGET = "nuget"
    COMPOSER = "composer"
    GITHUB = "github"


ALIASES: dict[str, Ecosystem] = {
    "rubygems": Ecosystem.GEM,
    "go": Ecosystem.GOLANG,
    "crates": Ecosystem.CARGO,
    "crates.io": Ecosystem.CARGO,
    "packagist": Ecosystem.COMPOSER,
    "pip": Ecosystem.PYPI,
    "actions": Ecosystem.GITHUB,
    "githubactions": Ecosystem.GITHUB,
}


class UnknownEcosystem(ValueError):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"unknown ecosystem {value!r}; supported: {', '.join(e.value for e in Ecosystem)}"
        )
        self.value = value


class InvalidPackageName(ValueError):
    pass


def parse_ecosystem(value: str) -> Ecosystem:
    key = value.strip().lower()
    try:
        return Ecosystem(key)
    except ValueError:
        if key in ALIASES:
            return ALIASES[key]
        raise UnknownEcosystem(value) from None


def normalize_name(ecosystem: Ecosystem, name: str) -> str:
    """The registry's canonical form of `name`: equal forms are the same package."""
    name = name.strip()
    if not name:
        raise InvalidPackageName("a package name cannot be empty")
    match ecosystem:
        case Ecosystem.PYPI:
            return canonicalize_name(name)
        case Ecosystem.CARGO:
            return name.lower().replace("_", "-")
        case Ecosystem.NUGET | Ecosystem.COMPOSER | Ecosystem.GITHUB:
            return name.lower()
        case Ecosystem.NPM:
            # New npm names must be lower case; old mixed-case ones are distinct packages.
            return name
        case _:
            # Go module paths, Maven coordinates and gems are case-sensitive.
            return name


def _split(ecosystem: Ecosystem, name: str) -> tuple[str | None, str]:
    """Split wump's display name into purl namespace and name."""
    if ecosystem is Ecosystem.MAVEN:
        group, sep, artifact = name.partition(":")
        if not sep or not group or not artifact:
            raise InvalidPackageName(f"a Maven package is 'group:artifact', not {name!r}")
        return group, artifact
    if ecosystem in (Ecosystem.NPM, Ecosystem.GOLANG, Ecosystem.COMPOSER, Ecosystem.GITHUB):
        namespace, sep, last = name.rpartition("/")
        if sep and (not namespace or not last):
            raise InvalidPackageName(f"{name!r} is not a valid {ecosystem.value} name")
        if ecosystem in (Ecosystem.COMPOSER, Ecosystem.GITHUB) and not sep:
            raise InvalidPackageName(f"a {ecosystem.value} package is 'owner/name', not {name!r}")
        if ecosystem is Ecosystem.NPM and namespace and not namespace.startswith("@"):
            raise InvalidPackageName(f"{name!r} is not a valid npm name")
        return (namespace or None), last
    if "/" in name:
        raise InvalidPackageName(f"{name!r} is not a valid {ecosystem.value} name")
    return None, name


# Lower-case letters, digits and `.-_`: characters a purl keeps as they are, and that no
# purl type's name rule changes (pypi's `_` never survives PEP 503 normalization).
_PLAIN = re.compile(r"[a-z0-9][a-z0-9._-]*")


def purl_of(ecosystem: Ecosystem, namespace: str | None, name: str) -> str:
    """`pkg:type/namespace/name`. Most names are plain and need no encoding, so they skip
    packageurl-python's two normalization passes (80 µs a name: minutes for 2M names);
    a test holds the two equal."""
    segments = [*(namespace.split("/") if namespace else ()), name]
    if all(_PLAIN.fullmatch(segment) for segment in segments) and not (
        ecosystem is Ecosystem.PYPI and "_" in name
    ):
        return f"pkg:{ecosystem.value}/{'/'.join(segments)}"
    return PackageURL(type=ecosystem.value, namespace=namespace, name=name).to_string()


@dataclass(frozen=True, slots=True)
class PackageIdentity:
    """A package's identity. Look packages up by (ecosystem, normalized_name)."""

    ecosystem: Ecosystem
    name: str
    normalized_name: str
    purl: str

    @classmethod
    def of(cls, ecosystem: Ecosystem | str, name: str) -> "PackageIdentity":
        eco = parse_ecosystem(ecosystem) if isinstance(ecosystem, str) else ecosystem
        normalized = normalize_name(eco, name)
        # crates.io keeps a crate's own spelling (serde_json, tokio-util) in its URLs;
        # the normalized form is only the key that makes the two spellings one crate.
        namespace, short = _split(
            eco, name.strip().lower() if eco is Ecosystem.CARGO else normalized
        )
        purl = purl_of(eco, namespace, short)
        return cls(ecosystem=eco, name=name.strip(), normalized_name=normalized, purl=purl)

    @classmethod
    def from_purl(cls, purl: str) -> "PackageIdentity":
        """Parse a purl (`pkg:npm/%40types/node@1.0`); the version is ignored."""
        try:
            parsed = PackageURL.from_string(purl.strip())
        except ValueError as exc:
            raise InvalidPackageName(f"not a valid purl: {exc}") from None
        eco = parse_ecosystem(parsed.type)
        if parsed.namespace:
            separator = ":" if eco is Ecosystem.MAVEN else "/"
            name = f"{parsed.namespace}{separator}{parsed.name}"
        else:
            name = parsed.name
        return cls.of(eco, name)


def is_registry_requirement(spec: str) -> bool:
    """False for local paths, VCS and URL requirements, which name no registry package."""
    lowered = spec.strip().lower()
    non_registry = (
        "file:",
        "link:",
        "portal:",
        "workspace:",
        "git+",
        "git:",
        "git@",
        "github:",
        "http://",
        "https://",
        "./",
        "../",
        "/",
        "~/",
    )
    return not lowered.startswith(non_registry)
