from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from wump.core.pagination import FilterDatetime, FilterText
from wump.ingest.identity import Ecosystem
from wump.models import DependencySource, DependencyType, OwnerKind

# Int columns are 32-bit on PostgreSQL; a larger bound would be a database error.
MAX_INT32 = 2**31 - 1

# What "uses the package" means by default: development and test dependencies
# don't ship, so their owners are weaker sponsorship prospects.
DEFAULT_DEPENDENCY_TYPES = frozenset(DependencyType) - {
    DependencyType.DEVELOPMENT,
    DependencyType.TEST,
}


class PackageSummary(BaseModel):
    ecosystem: Ecosystem = Field(description="The purl type.", examples=["pypi"])
    name: str = Field(examples=["Flask-SQLAlchemy"])
    normalized_name: str = Field(
        description="The registry's canonical form, which lookups match on.",
        examples=["flask-sqlalchemy"],
    )
    purl: str = Field(examples=["pkg:pypi/flask-sqlalchemy"])
    description: str | None = Field(examples=["Add SQLAlchemy support to your Flask app."])
    repository_url: str | None = Field(examples=["https://github.com/pallets-eco/flask-sqlalchemy"])
    homepage_url: str | None
    latest_version: str | None = Field(examples=["3.1.1"])
    funding_urls: list[str] = Field(examples=[["https://github.com/sponsors/pallets-eco"]])


class PackageCounts(BaseModel):
    """Maintained counters, updated with every ingestion (no edge is counted per request)."""

    dependent_repositories_count: int = Field(
        description="Repositories that depend on the package: every recorded edge (any "
        "dependency type, forks and archived repositories included) whose owner is not "
        "deleted. The `/dependents` filters do not apply.",
        examples=[1520],
    )
    dependent_organizations_count: int = Field(
        description="Distinct owners of those repositories.", examples=[610]
    )


class PackageListItem(PackageSummary, PackageCounts):
    pass


class PackageDetail(PackageSummary, PackageCounts):
    """A package and how much it is used.

    The counts are maintained counters; `dependency_types` and the first/last seen
    times are read from the edges themselves (the body is cached per package).
    """

    dependency_types: dict[str, int] = Field(
        description="Dependent repositories per dependency type (owners not deleted).",
        examples=[{"runtime": 1400, "development": 100, "test": 20}],
    )
    first_seen_at: datetime | None = Field(
        description="When wump first saw a repository depend on the package."
    )
    last_seen_at: datetime | None = Field(
        description="When wump last confirmed a repository depending on the package."
    )


class PackageSort(StrEnum):
    DEPENDENTS = "dependents"
    NAME = "name"


class OrganizationSummary(BaseModel):
    """Who owns the dependent repositories, and how to reach them."""

    login: str = Field(examples=["stripe"])
    name: str | None = Field(examples=["Stripe"])
    kind: OwnerKind = Field(description="`organization` or `user`.")
    github_url: str | None = Field(examples=["https://github.com/stripe"])
    website_url: str | None = Field(examples=["https://stripe.com"])
    sponsorship_url: str | None = Field(
        description="The owner's own sponsorship page, when it has one.",
        examples=["https://github.com/sponsors/stripe"],
    )
    is_verified: bool = Field(description="The code host verified the owner's domain.")
    company: str | None = Field(examples=["Stripe, Inc."])


class ScoreFactors(BaseModel):
    """Each factor's contribution to `score`, in points (they add up to the score)."""

    repositories: float = Field(description="Dependent repositories, log-scaled.", examples=[18.24])
    stars: float = Field(description="Stars of those repositories, log-scaled.", examples=[14.1])
    organization: float = Field(description="The owner is an organization, not a user.")
    verified: float = Field(description="The owner is verified by the code host.")
    contact: float = Field(description="The owner lists a company or a website.")
    recent_activity: float = Field(
        description="A dependent repository was pushed to recently (90 days by default)."
    )
    runtime: float = Field(
        description="The package is used at runtime, not only in development or tests."
    )
    sponsorship: float = Field(
        description="The owner already sponsors others or has a Sponsors listing."
    )


class DependentRepository(BaseModel):
    full_name: str = Field(examples=["stripe/checkout-api"])
    html_url: str | None = Field(examples=["https://github.com/stripe/checkout-api"])
    stars: int = Field(examples=[420])
    primary_language: str | None = Field(examples=["Python"])
    pushed_at: datetime | None
    is_fork: bool
    is_archived: bool
    dependency_type: DependencyType
    requirement: str | None = Field(
        description="The version requirement as written in the manifest.", examples=[">=3.0"]
    )
    is_direct: bool = Field(description="Declared directly, not pulled in transitively.")
    manifest_path: str | None = Field(examples=["requirements.txt"])
    source: DependencySource = Field(description="The source whose details are shown.")
    sources: list[DependencySource] = Field(
        description="Every source that reported this edge.", examples=[["manifest", "sbom"]]
    )
    first_seen_at: datetime


class RepositoryOwner(BaseModel):
    login: str = Field(examples=["stripe"])
    kind: OwnerKind


class DependentRepositoryItem(DependentRepository):
    owner: RepositoryOwner


class Dependent(BaseModel):
    """An organization whose repositories depend on the package, with the evidence."""

    organization: OrganizationSummary
    score: float = Field(
        ge=0, le=100, description="Sponsorship-prospect score, 0 to 100.", examples=[72.5]
    )
    score_factors: ScoreFactors
    total_repositories: int = Field(
        description="Its repositories that depend on the package (after filters).", examples=[12]
    )
    total_stars: int = Field(description="The stars of those repositories.", examples=[5400])
    last_pushed_at: datetime | None = Field(
        description="The most recent push to any of those repositories."
    )
    repositories: list[DependentRepository] = Field(
        description="Its most starred dependent repositories, capped by "
        "`repositories_per_organization`."
    )


class DependentsPage(BaseModel):
    """The organizations that depend on a package, best sponsorship prospects first."""

    package: PackageSummary
    total_organizations: int = Field(
        description="Organizations matching the filters (exact, over all pages)."
    )
    total_repositories: int = Field(
        description="Their repositories matching the filters (exact, over all pages)."
    )
    total: int = Field(description="The same as `total_organizations` (the list envelope).")
    limit: int = Field(examples=[50])
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; `null` on the last page."
    )
    dependents: list[Dependent]


class DependencyTypeChoice(StrEnum):
    RUNTIME = "runtime"
    DEVELOPMENT = "development"
    TEST = "test"
    BUILD = "build"
    OPTIONAL = "optional"
    PEER = "peer"
    ALL = "all"


class DependentFilters(BaseModel):
    """Which dependent repositories count. Shared by every dependents-style list."""

    model_config = ConfigDict(frozen=True)

    min_stars: int = Field(
        default=0,
        ge=0,
        le=MAX_INT32,
        description="Only repositories with at least this many stars.",
    )
    language: FilterText | None = Field(
        default=None,
        max_length=64,
        description="Only repositories whose primary language is this (case-insensitive).",
        examples=["Python"],
    )
    pushed_after: FilterDatetime | None = Field(
        default=None,
        description="Only repositories pushed to after this time (ISO 8601; UTC if no offset).",
        examples=["2025-01-01T00:00:00Z"],
    )
    include_forks: bool = Field(default=False, description="Count forks too.")
    include_archived: bool = Field(default=False, description="Count archived repositories too.")
    dependency_type: list[DependencyTypeChoice] = Field(
        default_factory=list,
        max_length=10,
        description="Repeatable. The default is every type but `development` and `test`; "
        "`all` selects every type.",
    )
    direct_only: bool = Field(default=False, description="Only direct (declared) dependencies.")
    kind: OwnerKind | None = Field(default=None, description="Only owners of this kind.")
    exclude_owner: list[FilterText] = Field(
        default_factory=list,
        max_length=100,
        description="Repeatable. Leave these owners (logins) out.",
        examples=[["my-company"]],
    )
    include_package_owner: bool = Field(
        default=False,
        description="Keep the package's own owner (from its repository URL), which is "
        "left out by default.",
    )

    def dependency_types(self) -> frozenset[DependencyType] | None:
        """The selected types, or None for every type."""
        chosen = set(self.dependency_type)
        if DependencyTypeChoice.ALL in chosen:
            return None
        if not chosen:
            return DEFAULT_DEPENDENCY_TYPES
        return frozenset(DependencyType(choice.value) for choice in chosen)

    def selects_ranked_view(self) -> bool:
        """Whether the repositories that count are the ranked view's (the defaults).

        Only owner-level filters (`kind`, `exclude_owner`, `include_package_owner`) may
        differ: those pick whole owners, so precomputed per-owner rows still answer.
        """
        return not (
            self.min_stars
            or self.language
            or self.pushed_after is not None
            or self.include_forks
            or self.include_archived
            or self.direct_only
            or self.dependency_types() != DEFAULT_DEPENDENCY_TYPES
        )

    def normalized(self) -> dict[str, object]:
        """A canonical form, so equivalent filters share cache keys and cursors."""
        types = self.dependency_types()
        return self.model_dump(mode="json") | {
            "dependency_type": sorted(types) if types is not None else "all",
            "exclude_owner": sorted({login.lower() for login in self.exclude_owner}),
            "language": self.language.lower() if self.language else None,
        }


class DependentSort(StrEnum):
    SCORE = "score"
    STARS = "stars"
    REPOSITORIES = "repositories"
    NAME = "name"
    RECENT = "recent"


class RepositorySort(StrEnum):
    STARS = "stars"
    RECENT = "recent"
    NAME = "name"
