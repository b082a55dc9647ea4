from email.message import Message
from importlib.metadata import Distribution
from os import PathLike
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.ingest.loader import RepositoryRef
from wump.ingest.sources import run
from wump.ingest.sources.environment import EnvironmentSource, source_repository
from wump.models import DependencySource, DependencyType

from .test_path import stored_edges


class FakeDistribution(Distribution):
    """Metadata given in code, for the cases the real environment may not have."""

    def __init__(self, headers: list[tuple[str, str]], requires: list[str]) -> None:
        self._headers = headers
        self._requires = requires

    def read_text(self, filename: str) -> str | None:
        if filename != "METADATA":
            return None
        message = Message()
        for key, value in [*self._headers, *(("Requires-Dist", r) for r in self._requires)]:
            message[key] = value
        return message.as_string()

    def locate_file(self, path: str | PathLike[str]) -> Path:
        return Path(path)


def fake(name: str, *urls: str, requires: tuple[str, ...] = ()) -> FakeDistribution:
    headers = [("Metadata-Version", "2.1"), ("Name", name), ("Version", "1.0")]
    headers += [("Project-URL", url) for url in urls]
    return FakeDistribution(headers, list(requires))


async def test_installed_distributions_become_their_repositories_dependencies(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    summary = await run(sessionmaker, EnvironmentSource())

    assert summary.ok
    edges = await stored_edges(session)
    httpx = {
        purl: edge for (repository, purl), edge in edges.items() if repository == "encode/httpx"
    }
    # httpx's own metadata: Requires-Dist anyio, certifi, httpcore, idna, and extras.
    assert {"pkg:pypi/anyio", "pkg:pypi/certifi", "pkg:pypi/httpcore", "pkg:pypi/idna"} <= set(
        httpx
    )
    assert httpx["pkg:pypi/anyio"].dependency_type == DependencyType.RUNTIME
    assert httpx["pkg:pypi/anyio"].source == DependencySource.ENVIRONMENT
    extras = [edge for edge in httpx.values() if "extra ==" in (edge.requirement or "")]
    assert extras
    assert all(edge.dependency_type == DependencyType.OPTIONAL for edge in extras)
    fastapi_uses_pydantic = edges[("fastapi/fastapi", "pkg:pypi/pydantic")]
    assert (fastapi_uses_pydantic.requirement or "").startswith(">=")
    assert summary.repositories > 10


def test_the_source_url_is_preferred_over_other_github_links() -> None:
    distribution = fake(
        "widget",
        "Funding, https://github.com/sponsors/someone",
        "Issues, https://github.com/acme/widget-tracker/issues",
        "Source, https://github.com/acme/widget",
    )

    assert source_repository(distribution) == RepositoryRef(owner="acme", name="widget")


def test_sponsor_links_are_not_repositories() -> None:
    distribution = fake("widget", "Funding, https://github.com/sponsors/someone")

    assert source_repository(distribution) is None


def test_distributions_from_one_repository_make_one_snapshot_without_self_edges() -> None:
    installed = [
        fake("typer", "Repository, https://github.com/fastapi/typer", requires=("click>=8",)),
        fake(
            "typer-slim",
            "Source, https://github.com/fastapi/typer.git",
            requires=("typer-slim[standard]; extra == 'all'", "rich>=13; extra == 'standard'"),
        ),
        fake("nowhere", "Homepage, https://example.org", requires=("six",)),
    ]

    [batch] = list(EnvironmentSource(installed).batches())

    [snapshot] = batch.snapshots
    assert snapshot.repository.full_name == "fastapi/typer"
    assert {(d.name, d.requirement, d.dependency_type) for d in snapshot.dependencies} == {
        ("click", ">=8", DependencyType.RUNTIME),
        ("rich", '>=13; extra == "standard"', DependencyType.OPTIONAL),
    }
    assert batch.notes["distributions_without_github_url"] == 1
    assert batch.records == 3


def test_an_unreadable_requirement_is_reported_and_keeps_earlier_edges() -> None:
    installed = [
        fake("widget", "Source, https://github.com/acme/widget", requires=("ok", "bad req ~~"))
    ]

    [batch] = list(EnvironmentSource(installed).batches())

    assert len(batch.failures) == 1
    assert "widget-1.0.dist-info/METADATA: Requires-Dist 'bad req ~~'" in batch.failures[0]
    assert batch.snapshots[0].replace is False
