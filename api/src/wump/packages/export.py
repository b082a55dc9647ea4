"""CSV columns of the package lists: one row per JSON item, flattened for spreadsheets."""

from wump.core.csv_export import CsvRow
from wump.packages.schemas import (
    Dependent,
    DependentRepositoryItem,
    PackageListItem,
    ScoreFactors,
)

_FACTORS = list(ScoreFactors.model_fields)

DEPENDENTS_HEADER: CsvRow = [
    "login",
    "name",
    "kind",
    "score",
    "total_repositories",
    "total_stars",
    "last_pushed_at",
    "company",
    "website_url",
    "github_url",
    "sponsorship_url",
    "is_verified",
    *(f"factor_{name}" for name in _FACTORS),
    "repositories",
]


def dependent_row(dependent: Dependent) -> CsvRow:
    organization = dependent.organization
    factors = dependent.score_factors.model_dump()
    return [
        organization.login,
        organization.name,
        organization.kind.value,
        dependent.score,
        dependent.total_repositories,
        dependent.total_stars,
        dependent.last_pushed_at,
        organization.company,
        organization.website_url,
        organization.github_url,
        organization.sponsorship_url,
        organization.is_verified,
        *(factors[name] for name in _FACTORS),
        " ".join(repository.full_name for repository in dependent.repositories),
    ]


REPOSITORIES_HEADER: CsvRow = [
    "full_name",
    "owner",
    "owner_kind",
    "html_url",
    "stars",
    "primary_language",
    "pushed_at",
    "is_fork",
    "is_archived",
    "dependency_type",
    "requirement",
    "is_direct",
    "manifest_path",
    "source",
    "sources",
    "first_seen_at",
]


def repository_row(item: DependentRepositoryItem) -> CsvRow:
    return [
        item.full_name,
        item.owner.login,
        item.owner.kind.value,
        item.html_url,
        item.stars,
        item.primary_language,
        item.pushed_at,
        item.is_fork,
        item.is_archived,
        item.dependency_type.value,
        item.requirement,
        item.is_direct,
        item.manifest_path,
        item.source.value,
        " ".join(source.value for source in item.sources),
        item.first_seen_at,
    ]


PACKAGES_HEADER: CsvRow = [
    "ecosystem",
    "name",
    "purl",
    "dependent_repositories_count",
    "dependent_organizations_count",
    "latest_version",
    "repository_url",
    "homepage_url",
]


def package_row(item: PackageListItem) -> CsvRow:
    return [
        item.ecosystem.value,
        item.name,
        item.purl,
        item.dependent_repositories_count,
        item.dependent_organizations_count,
        item.latest_version,
        item.repository_url,
        item.homepage_url,
    ]
