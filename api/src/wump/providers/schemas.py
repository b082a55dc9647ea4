"""What wump reads from each provider's answers, and nothing more.

Every model ignores the fields it does not name, so a provider adding fields
never breaks a client; a field wump relies on going missing does (as a
`ProviderError`). Names follow the provider's own, except where noted.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from wump.providers.base import ProviderHealth

T = TypeVar("T")
C = TypeVar("C")


class ProviderModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class CamelModel(ProviderModel):
    """deps.dev and GitHub GraphQL answer in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel)


@dataclass(frozen=True, slots=True)
class Page(Generic[T, C]):
    """One page of a list and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: C | None


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


# --- GitHub -------------------------------------------------------------------------


class GitHubOwner(ProviderModel):
    """A user or organization profile (`GET /users/{login}`, `GET /orgs/{org}`)."""

    login: str
    id: int
    type: str = Field(description='"User" or "Organization"')
    name: str | None = None
    company: str | None = None
    # GitHub calls the profile website `blog`.
    website_url: str | None = Field(
        default=None, validation_alias=AliasChoices("blog", "website_url")
    )
    location: str | None = None
    email: str | None = None
    bio: str | None = None
    description: str | None = None
    hireable: bool | None = None
    is_verified: bool | None = None
    twitter_username: str | None = None
    followers: int = 0
    public_repos: int = 0
    html_url: str
    created_at: datetime | None = None

    normalize_blanks = field_validator(
        "name", "company", "website_url", "location", "email", "bio", "description", mode="before"
    )(_blank_to_none)

    @property
    def is_organization(self) -> bool:
        return self.type == "Organization"


class GitHubRepositoryOwner(ProviderModel):
    login: str
    type: str


class GitHubRepository(ProviderModel):
    """A repository, from `GET /repos/{owner}/{repo}` or an owner's repository list."""

    id: int
    name: str
    full_name: str
    owner: GitHubRepositoryOwner
    html_url: str
    description: str | None = None
    fork: bool = False
    archived: bool = False
    language: str | None = None
    stargazers_count: int = 0
    forks_count: int = 0
    pushed_at: datetime | None = None
    default_branch: str | None = None
    # From the ETag response header, to send back as If-None-Match next time.
    etag: str | None = None


class GitHubSponsorsListing(ProviderModel):
    name: str | None = None
    url: str | None = None


class GitHubCount(ProviderModel):
    total_count: int = Field(default=0, alias="totalCount")


class GitHubSponsorship(CamelModel):
    """Sponsorship signals of an owner, from GraphQL `repositoryOwner(login:)`."""

    login: str
    owner_type: str = Field(alias="__typename")
    has_sponsors_listing: bool = False
    sponsors_listing: GitHubSponsorsListing | None = None
    sponsoring: GitHubCount = Field(default_factory=GitHubCount)

    @property
    def sponsoring_count(self) -> int:
        """How many others this owner sponsors: a sign it funds open source."""
        return self.sponsoring.total_count


# --- ecosyste.ms --------------------------------------------------------------------


class EcosystemsHost(ProviderModel):
    name: str
    kind: str | None = None


class EcosystemsRepository(ProviderModel):
    """A repository as repos.ecosyste.ms describes it. `owner` is the owner's login."""

    id: int
    full_name: str
    owner: str | None = None
    html_url: str | None = None
    description: str | None = None
    fork: bool = False
    archived: bool = False
    language: str | None = None
    stargazers_count: int = 0
    forks_count: int = 0
    pushed_at: datetime | None = None
    default_branch: str | None = None
    host: EcosystemsHost | None = None


class EcosystemsManifest(ProviderModel):
    ecosystem: str | None = None
    filepath: str | None = None
    kind: str | None = None


class EcosystemsDependency(ProviderModel):
    """One dependency edge: a manifest in a repository that names the package."""

    id: int
    package_name: str
    ecosystem: str
    requirements: str | None = None
    kind: str | None = None
    direct: bool | None = None
    optional: bool | None = None
    repository: EcosystemsRepository | None = None
    manifest: EcosystemsManifest | None = None


class EcosystemsPackage(ProviderModel):
    """Package metadata from packages.ecosyste.ms."""

    name: str
    ecosystem: str
    description: str | None = None
    homepage: str | None = None
    repository_url: str | None = None
    normalized_licenses: list[str] = Field(default_factory=list)
    latest_release_number: str | None = None
    latest_release_published_at: datetime | None = None
    funding_links: list[str] = Field(default_factory=list)
    dependent_packages_count: int = 0
    dependent_repos_count: int = 0
    downloads: int | None = None
    downloads_period: str | None = None
    purl: str | None = None
    status: str | None = None


class EcosystemsOwnerMetadata(ProviderModel):
    has_sponsors_listing: bool | None = None


class EcosystemsOwner(ProviderModel):
    """An owner (user or organization) from repos.ecosyste.ms."""

    login: str
    name: str | None = None
    kind: str | None = Field(default=None, description='"organization" or "user"')
    description: str | None = None
    email: str | None = None
    website: str | None = None
    location: str | None = None
    twitter: str | None = None
    company: str | None = None
    html_url: str | None = None
    funding_links: list[str] = Field(default_factory=list)
    repositories_count: int | None = None
    total_stars: int | None = None
    metadata: EcosystemsOwnerMetadata = Field(default_factory=EcosystemsOwnerMetadata)

    normalize_blanks = field_validator(
        "name", "description", "email", "website", "location", "company", mode="before"
    )(_blank_to_none)

    @field_validator("funding_links", mode="before")
    @classmethod
    def _no_links(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("metadata", mode="before")
    @classmethod
    def _no_metadata(cls, value: object) -> object:
        return {} if value is None else value


# --- Libraries.io -------------------------------------------------------------------


class LibrariesIoProject(ProviderModel):
    """A project (package) on Libraries.io. `rank` is its SourceRank."""

    name: str
    platform: str
    description: str | None = None
    homepage: str | None = None
    repository_url: str | None = None
    normalized_licenses: list[str] = Field(default_factory=list)
    rank: int | None = None
    language: str | None = None
    status: str | None = None
    stars: int | None = None
    forks: int | None = None
    latest_release_number: str | None = None
    latest_release_published_at: datetime | None = None
    dependents_count: int | None = None
    dependent_repos_count: int | None = None
    package_manager_url: str | None = None


class LibrariesIoSourceRank(ProviderModel):
    """The breakdown of a project's SourceRank (`GET /api/{platform}/{name}/sourcerank`)."""

    basic_info_present: int = 0
    repository_present: int = 0
    readme_present: int = 0
    license_present: int = 0
    versions_present: int = 0
    follows_semver: int = 0
    recent_release: int = 0
    not_brand_new: int = 0
    one_point_oh: int = 0
    all_prereleases: int = 0
    any_outdated_dependencies: int = 0
    is_deprecated: int = 0
    is_unmaintained: int = 0
    is_removed: int = 0
    dependent_projects: int = 0
    dependent_repositories: int = 0
    stars: int = 0
    contributors: int = 0
    subscribers: int = 0

    @property
    def total(self) -> int:
        return sum(self.model_dump().values())


class LibrariesIoRepository(ProviderModel):
    """A repository depending on a project. Libraries.io reports no archived flag."""

    full_name: str
    description: str | None = None
    fork: bool = False
    language: str | None = None
    stargazers_count: int = 0
    forks_count: int = 0
    pushed_at: datetime | None = None
    default_branch: str | None = None
    host_type: str | None = None
    homepage: str | None = None
    rank: int | None = None
    status: str | None = None

    @property
    def owner(self) -> str:
        return self.full_name.partition("/")[0]


# --- deps.dev ----------------------------------------------------------------------


class DepsDevPackageKey(CamelModel):
    system: str
    name: str


class DepsDevVersionKey(CamelModel):
    system: str
    name: str
    version: str


class DepsDevPackageVersion(CamelModel):
    version_key: DepsDevVersionKey
    published_at: datetime | None = None
    # proto3 JSON leaves out false booleans and zero counts.
    is_default: bool = False


class DepsDevPackage(CamelModel):
    """`GetPackage`: a package and its versions."""

    package_key: DepsDevPackageKey
    versions: list[DepsDevPackageVersion] = Field(default_factory=list)

    @property
    def default_version(self) -> str | None:
        """The version installed when none is asked for, else the latest published."""
        for version in self.versions:
            if version.is_default:
                return version.version_key.version
        dated = [v for v in self.versions if v.published_at is not None]
        if not dated:
            return None
        return max(dated, key=lambda v: v.published_at or datetime.min).version_key.version


class DepsDevLink(CamelModel):
    label: str = ""
    url: str = ""


class DepsDevProjectKey(CamelModel):
    id: str


class DepsDevRelatedProject(CamelModel):
    project_key: DepsDevProjectKey
    relation_provenance: str = ""
    relation_type: str = ""


class DepsDevVersion(CamelModel):
    """`GetVersion`: one version, its licenses, links and related projects."""

    version_key: DepsDevVersionKey
    published_at: datetime | None = None
    is_default: bool = False
    licenses: list[str] = Field(default_factory=list)
    links: list[DepsDevLink] = Field(default_factory=list)
    related_projects: list[DepsDevRelatedProject] = Field(default_factory=list)

    @property
    def source_repository(self) -> str | None:
        """The project key (`github.com/owner/repo`) of the version's source repository."""
        for project in self.related_projects:
            if project.relation_type == "SOURCE_REPO":
                return project.project_key.id
        return None


class DepsDevDependents(CamelModel):
    """`GetDependents` (v3alpha): how many packages depend on a version."""

    dependent_count: int = 0
    direct_dependent_count: int = 0
    indirect_dependent_count: int = 0


class DepsDevScorecardCheck(CamelModel):
    name: str
    # In [0, 10]; negative when the check could not run.
    score: int = 0
    reason: str | None = None


class DepsDevScorecardRepository(CamelModel):
    name: str = ""
    commit: str = ""


class DepsDevScorecard(CamelModel):
    date: datetime | None = None
    repository: DepsDevScorecardRepository | None = None
    overall_score: float = 0.0
    checks: list[DepsDevScorecardCheck] = Field(default_factory=list)


class DepsDevProject(CamelModel):
    """`GetProject`: a source repository and its OpenSSF Scorecard, when it has one."""

    project_key: DepsDevProjectKey
    open_issues_count: int = 0
    stars_count: int = 0
    forks_count: int = 0
    license: str | None = None
    description: str | None = None
    homepage: str | None = None
    scorecard: DepsDevScorecard | None = None


# --- wump's own view ---------------------------------------------------------------


class ProviderHealthList(BaseModel):
    """The health of every data provider, in the fallback order."""

    items: list[ProviderHealth]
    processes: int = Field(
        description="How many processes' records were added up: this API process and "
        "every worker with a live heartbeat.",
        examples=[3],
    )
