from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from wump.models import OwnerKind
from wump.packages.schemas import OrganizationSummary, PackageSummary


class OrganizationListItem(OrganizationSummary):
    total_stars: int = Field(
        description="Stars across the owner's repositories, as last read from the code host.",
        examples=[123456],
    )
    total_repositories: int = Field(
        description="The owner's repositories, as last read from the code host.", examples=[310]
    )
    dependencies_count: int = Field(
        description="Distinct packages that the owner's known repositories depend on.",
        examples=[842],
    )


class OrganizationSort(StrEnum):
    TOTAL_STARS = "total_stars"
    DEPENDENCIES = "dependencies"
    NAME = "name"


class SponsorshipSignals(BaseModel):
    sponsorship_url: str | None = Field(examples=["https://github.com/sponsors/stripe"])
    has_sponsors_listing: bool | None = Field(
        description="The owner has a GitHub Sponsors listing; `null` when not known yet."
    )
    sponsors_others_count: int | None = Field(
        description="How many others the owner sponsors; `null` when not known yet.",
        examples=[12],
    )


class OwnedRepository(BaseModel):
    full_name: str = Field(examples=["stripe/stripe-python"])
    html_url: str | None = Field(examples=["https://github.com/stripe/stripe-python"])
    description: str | None
    stars: int = Field(examples=[1600])
    primary_language: str | None = Field(examples=["Python"])
    is_archived: bool
    is_fork: bool
    pushed_at: datetime | None


class OrganizationDetail(BaseModel):
    """An owner's profile, sponsorship signals, totals and best-known repositories."""

    login: str = Field(examples=["stripe"])
    host: str = Field(examples=["github.com"])
    kind: OwnerKind
    name: str | None = Field(examples=["Stripe"])
    description: str | None
    company: str | None
    website_url: str | None
    email: str | None = Field(description="The public contact address on the owner's profile.")
    location: str | None
    github_url: str | None
    is_verified: bool
    followers: int
    public_repos: int = Field(description="Public repositories, as reported by the code host.")
    sponsorship: SponsorshipSignals
    total_stars: int = Field(description="Stars across the owner's repositories (code host).")
    total_repositories: int = Field(description="The owner's repositories (code host).")
    known_repositories: int = Field(description="The owner's repositories that wump has seen.")
    dependencies_count: int = Field(
        description="Distinct packages the owner's known repositories depend on."
    )
    enriched_at: datetime | None = Field(description="When the profile was last refreshed.")
    repositories: list[OwnedRepository] = Field(
        description="The owner's known repositories, most starred first (at most 100)."
    )


class OrganizationDependency(BaseModel):
    """A package the organization's repositories depend on."""

    package: PackageSummary
    repositories_count: int = Field(
        description="How many of the owner's repositories depend on the package.", examples=[7]
    )
    dependency_types: list[str] = Field(
        description="The kinds of dependency seen (runtime, development, ...).",
        examples=[["runtime", "test"]],
    )
    first_seen_at: datetime = Field(description="When wump first saw any of these edges.")


class DependencySort(StrEnum):
    REPOSITORIES = "repositories"
    NAME = "name"
