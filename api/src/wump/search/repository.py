"""Search statements: case-insensitive matches, exact then prefix then substring."""

from sqlalchemy import Subquery, func, select

from wump.core.pagination import Keyset, SortKey
from wump.ingest.identity import Ecosystem
from wump.models import Organization, Package
from wump.organizations.repository import SUMMARY_COLUMNS
from wump.packages.repository import PACKAGE_COLUMNS, PACKAGE_COUNTERS
from wump.search.matching import search_terms, text_match


def package_matches(q: str, ecosystem: Ecosystem | None) -> Subquery:
    matches, rank = text_match([Package.name, Package.normalized_name], search_terms(q))
    statement = select(
        *PACKAGE_COLUMNS,
        *PACKAGE_COUNTERS,
        func.lower(Package.name).label("name_key"),
        rank.label("rank"),
    ).where(matches)
    if ecosystem is not None:
        statement = statement.where(Package.ecosystem == ecosystem.value)
    return statement.subquery("package_matches")


def package_keyset(matches: Subquery) -> Keyset:
    c = matches.c
    return Keyset(
        (
            SortKey("rank", c.rank, False, int),
            SortKey("name_key", c.name_key, False, str),
            SortKey("ecosystem", c.ecosystem, False, str),
            SortKey("id", c.id, False, int),
        )
    )


def organization_matches(q: str) -> Subquery:
    matches, rank = text_match([Organization.login, Organization.name], search_terms(q))
    return (
        select(*SUMMARY_COLUMNS, rank.label("rank"))
        .where(matches, Organization.deleted_at.is_(None))
        .subquery("organization_matches")
    )


def organization_keyset(matches: Subquery) -> Keyset:
    c = matches.c
    return Keyset(
        (
            SortKey("rank", c.rank, False, int),
            SortKey("total_stars", c.total_stars, True, int),
            SortKey("id", c.id, False, int),
        )
    )
