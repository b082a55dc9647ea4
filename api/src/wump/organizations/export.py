"""CSV columns of the organization lists."""

from wump.core.csv_export import CsvRow
from wump.organizations.schemas import OrganizationDependency, OrganizationListItem

CSV_EXAMPLE = (
    "login,name,kind,total_stars,total_repositories,dependencies_count,company,website_url,"
    "github_url,sponsorship_url,is_verified\r\n"
    'stripe,Stripe,organization,123456,310,842,"Stripe, Inc.",https://stripe.com,'
    "https://github.com/stripe,,true\r\n"
)

ORGANIZATIONS_HEADER: CsvRow = [
    "login",
    "name",
    "kind",
    "total_stars",
    "total_repositories",
    "dependencies_count",
    "company",
    "website_url",
    "github_url",
    "sponsorship_url",
    "is_verified",
]


def organization_row(item: OrganizationListItem) -> CsvRow:
    return [
        item.login,
        item.name,
        item.kind.value,
        item.total_stars,
        item.total_repositories,
        item.dependencies_count,
        item.company,
        item.website_url,
        item.github_url,
        item.sponsorship_url,
        item.is_verified,
    ]


DEPENDENCIES_HEADER: CsvRow = [
    "ecosystem",
    "name",
    "purl",
    "repositories_count",
    "dependency_types",
    "first_seen_at",
]


def dependency_row(item: OrganizationDependency) -> CsvRow:
    return [
        item.package.ecosystem.value,
        item.package.name,
        item.package.purl,
        item.repositories_count,
        " ".join(item.dependency_types),
        item.first_seen_at,
    ]
