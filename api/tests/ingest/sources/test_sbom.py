import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.ingest import parsers
from wump.ingest.loader import RepositoryRef
from wump.ingest.sources import run
from wump.ingest.sources.sbom import SbomSource, document_repository
from wump.models import DependencySource

from .test_path import stored_edges


def spdx(name: str, *purls: str) -> dict[str, Any]:
    """An SPDX document shaped like GitHub's dependency graph export."""
    packages = [
        {
            "SPDXID": f"SPDXRef-{index}",
            "name": purl,
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": purl,
                }
            ],
        }
        for index, purl in enumerate(purls)
    ]
    return {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "packages": packages,
    }


def cyclonedx(*purls: str) -> dict[str, Any]:
    components = [{"type": "library", "name": purl.split("/")[-1], "purl": purl} for purl in purls]
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components}


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


async def test_the_sbom_names_its_own_repository(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    sbom = write(
        tmp_path / "export.json",
        spdx("com.github.acme/rocket", "pkg:pypi/httpx@0.28.1", "pkg:npm/react@18.3.1"),
    )

    summary = await run(sessionmaker, SbomSource([sbom], repository="someone/else"))

    assert summary.ok
    edges = await stored_edges(session)
    assert set(edges) == {("acme/rocket", "pkg:pypi/httpx"), ("acme/rocket", "pkg:npm/react")}
    assert edges[("acme/rocket", "pkg:pypi/httpx")].source == DependencySource.SBOM


async def test_an_sbom_without_a_repository_needs_the_repo_option(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    sbom = write(tmp_path / "bom.json", cyclonedx("pkg:cargo/serde@1.0.200"))

    without = await run(sessionmaker, SbomSource([sbom]))
    with_repo = await run(sessionmaker, SbomSource([sbom], repository="globex/engine"))

    assert without.failures == [f"{sbom}: the document names no repository; pass --repo OWNER/NAME"]
    assert with_repo.ok
    assert set(await stored_edges(session)) == {("globex/engine", "pkg:cargo/serde")}


async def test_a_malformed_sbom_is_reported_and_the_others_load(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    good = write(tmp_path / "good.spdx.json", spdx("com.github.acme/rocket", "pkg:pypi/rich@13"))
    bad = tmp_path / "bad.spdx.json"
    bad.write_text('{\n  "spdxVersion": "SPDX-2.3",\n  "packages": [\n}\n')

    summary = await run(sessionmaker, SbomSource([bad, good]))

    [failure] = summary.failures
    assert failure.startswith(f"{bad}:4: ")
    assert set(await stored_edges(session)) == {("acme/rocket", "pkg:pypi/rich")}


async def test_an_sbom_over_the_size_limit_is_refused(
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sbom = write(tmp_path / "big.cdx.json", cyclonedx("pkg:pypi/httpx@1"))
    monkeypatch.setattr(parsers, "MAX_FILE_BYTES", 10)

    summary = await run(sessionmaker, SbomSource([sbom], repository="acme/rocket"))

    [failure] = summary.failures
    assert "over the 10-byte limit" in failure


async def test_documents_of_one_repository_make_one_snapshot(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    first = write(tmp_path / "a.spdx.json", spdx("com.github.acme/rocket", "pkg:pypi/httpx@1"))
    second = write(tmp_path / "b.spdx.json", spdx("com.github.acme/rocket", "pkg:npm/react@18"))

    await run(sessionmaker, SbomSource([first, second]))

    assert len(await stored_edges(session)) == 2


@pytest.mark.parametrize(
    "name",
    ["acme/rocket", "github.com/acme/rocket", "https://github.com/acme/rocket.git"],
)
def test_document_repository_names_accept_urls(name: str) -> None:
    assert document_repository(name) == RepositoryRef(owner="acme", name="rocket")
