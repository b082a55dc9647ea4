from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.core.cache import Cache
from wump.ingest.loader import RepositoryRef
from wump.ingest.sources import run
from wump.ingest.sources.path import (
    CheckoutError,
    PathSource,
    checkout_repository,
    find_manifests,
    origin_url,
    parse_remote_url,
)
from wump.models import Dependency, DependencySource, DependencyType, Package, Repository

from .checkouts import materialize


async def stored_edges(session: AsyncSession) -> dict[tuple[str, str], Dependency]:
    rows = await session.execute(
        select(Repository.full_name, Package.purl, Dependency)
        .join(Repository, Repository.id == Dependency.repository_id)
        .join(Package, Package.id == Dependency.package_id)
        .execution_options(populate_existing=True)
    )
    return {(repository, purl): edge for repository, purl, edge in rows}


def test_walk_finds_only_the_checkouts_own_manifests(tmp_path: Path) -> None:
    checkout = materialize("app", tmp_path)

    found = {relative for _, relative, _ in find_manifests(checkout)}

    # node_modules, .venv, vendor and target are skipped; generated/ and
    # *.local.txt are ignored by .gitignore, services/legacy/ by a nested one.
    assert found == {"requirements.txt", "web/package.json", "services/api/requirements.txt"}


def test_walk_does_not_follow_symlinks_out_of_the_checkout(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("secret-package\n")
    checkout = materialize("app", tmp_path)
    (checkout / "linked").symlink_to(outside, target_is_directory=True)
    (checkout / "requirements-linked.txt").symlink_to(outside / "requirements.txt")

    found = {relative for _, relative, _ in find_manifests(checkout)}

    assert not any("linked" in relative for relative in found)


def test_origin_remote_names_the_repository(tmp_path: Path) -> None:
    checkout = materialize("app", tmp_path)

    assert checkout_repository(checkout) == RepositoryRef(owner="Acme", name="Rocket")


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/rocket.git",
        "https://github.com/acme/rocket",
        "https://github.com/acme/rocket/",
        "http://www.github.com/acme/rocket.git",
        "https://x-access-token:ghs_secret@github.com/acme/rocket.git",
        "ssh://git@github.com/acme/rocket.git",
        "ssh://git@ssh.github.com:443/acme/rocket.git",
        "git@github.com:acme/rocket.git",
        "git@github.com:acme/rocket",
        "git://github.com/acme/rocket.git",
    ],
)
def test_remote_url_forms_name_the_same_repository(url: str) -> None:
    assert parse_remote_url(url) == RepositoryRef(owner="acme", name="rocket")


def test_remote_urls_of_other_hosts_keep_their_host() -> None:
    assert parse_remote_url("git@gitlab.com:initech/tps.git") == RepositoryRef(
        owner="initech", name="tps", host="gitlab.com"
    )


@pytest.mark.parametrize(
    "url", ["https://github.com/acme", "/srv/git/rocket.git", "https://gitlab.com/a/b/c"]
)
def test_remote_urls_that_name_no_owner_and_repository_are_refused(url: str) -> None:
    with pytest.raises(CheckoutError, match="not a repository URL"):
        parse_remote_url(url)


def test_credentials_in_a_remote_url_never_reach_the_message() -> None:
    with pytest.raises(CheckoutError) as info:
        parse_remote_url("https://user:hunter2@github.com/acme")

    assert "hunter2" not in str(info.value)


def test_origin_url_reads_quoted_values_and_the_legacy_section_form() -> None:
    quoted = '[remote "origin"]\n\turl = "git@github.com:acme/rocket.git" ; the main one\n'
    legacy = "[remote.origin]\n    url = https://github.com/acme/rocket # old style\n"
    other = '[remote "fork"]\n\turl = https://github.com/me/rocket\n'

    assert origin_url(quoted) == "git@github.com:acme/rocket.git"
    assert origin_url(legacy) == "https://github.com/acme/rocket"
    assert origin_url(other) is None


def test_a_checkout_without_an_origin_remote_is_a_clear_error(tmp_path: Path) -> None:
    checkout = materialize("no-remote", tmp_path)

    with pytest.raises(CheckoutError, match=r"no 'origin' remote.*--repo OWNER/NAME"):
        checkout_repository(checkout)


def test_a_folder_that_is_no_git_checkout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckoutError, match=r"not a git checkout.*--repo OWNER/NAME"):
        checkout_repository(tmp_path)


def test_a_worktree_finds_its_remotes_in_the_main_repository(tmp_path: Path) -> None:
    main = materialize("app", tmp_path)
    worktree_git = main / ".git" / "worktrees" / "feature"
    worktree_git.mkdir(parents=True)
    (worktree_git / "commondir").write_text("../..\n")
    worktree = tmp_path / "feature"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {worktree_git}\n")

    assert checkout_repository(worktree).full_name == "Acme/Rocket"


def test_repo_option_is_refused_with_several_checkouts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="single checkout"):
        PathSource([tmp_path / "a", tmp_path / "b"], repository="acme/rocket")


async def test_ingesting_a_checkout_stores_its_manifests_as_one_snapshot(
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    cache: Cache,
) -> None:
    checkout = materialize("app", tmp_path)

    summary = await run(sessionmaker, PathSource([checkout]), cache=cache)

    assert summary.ok
    assert (summary.repositories, summary.edges) == (1, 5)
    edges = await stored_edges(session)
    assert set(edges) == {
        ("Acme/Rocket", "pkg:pypi/httpx"),
        ("Acme/Rocket", "pkg:pypi/rich"),
        ("Acme/Rocket", "pkg:pypi/fastapi"),
        ("Acme/Rocket", "pkg:npm/react"),
        ("Acme/Rocket", "pkg:npm/vitest"),
    }
    vitest = edges[("Acme/Rocket", "pkg:npm/vitest")]
    assert (vitest.dependency_type, vitest.manifest_path, vitest.source) == (
        DependencyType.DEVELOPMENT,
        "web/package.json",
        DependencySource.MANIFEST,
    )


async def test_repo_option_names_a_checkout_without_a_remote(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    checkout = materialize("no-remote", tmp_path)

    without = await run(sessionmaker, PathSource([checkout]))
    with_repo = await run(sessionmaker, PathSource([checkout], repository="acme/tool"))

    assert len(without.failures) == 1
    assert "no 'origin' remote" in without.failures[0]
    assert with_repo.ok
    assert set(await stored_edges(session)) == {("acme/tool", "pkg:pypi/rich")}


async def test_a_malformed_manifest_is_reported_and_loses_nothing_stored_before(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    checkout = materialize("broken", tmp_path)
    (checkout / "web" / "package.json").write_text('{"dependencies": {"react": "^18"}}')
    await run(sessionmaker, PathSource([checkout]))
    materialize("broken", tmp_path)  # the malformed package.json is back

    summary = await run(sessionmaker, PathSource([checkout]))

    assert len(summary.failures) == 1
    assert summary.failures[0].startswith(f"{checkout / 'web' / 'package.json'}:5: ")
    # react came from the file that now fails to parse: it stays until a clean scan.
    assert set(await stored_edges(session)) == {
        ("acme/broken", "pkg:pypi/httpx"),
        ("acme/broken", "pkg:npm/react"),
    }
