import time
from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, decode, detect, parse_file, parse_text
from wump.ingest.parsers.pypi import (
    parse_poetry_lock,
    parse_pyproject,
    parse_requirements,
    parse_requirements_file,
    parse_setup_cfg,
    parse_uv_lock,
)
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "pypi"
RUNTIME, DEV, TEST, BUILD, OPTIONAL = (
    DependencyType.RUNTIME,
    DependencyType.DEVELOPMENT,
    DependencyType.TEST,
    DependencyType.BUILD,
    DependencyType.OPTIONAL,
)


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def fixture(relative: str) -> ParseResult:
    return parse_file(FIXTURES / relative, display_path=relative)


# requirements files -----------------------------------------------------------------------


def test_requirements_txt_with_bom_and_crlf_reads_pins_extras_and_hashed_lines() -> None:
    raw = (FIXTURES / "pip" / "requirements.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw

    result = fixture("pip/requirements.txt")

    assert summary(result) == {
        "gunicorn": ("==21.2.0", RUNTIME, True),
        "psycopg": ("==3.1.13", RUNTIME, True),
        "sentry-sdk": (">=1.38", RUNTIME, True),
        "Django": ("==4.2.7", RUNTIME, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.PYPI}
    assert {d.manifest_path for d in result.dependencies} == {"pip/requirements.txt"}


def test_requirements_txt_lists_editable_git_url_and_path_entries_as_skipped() -> None:
    result = fixture("pip/requirements.txt")

    assert result.skipped == [
        "-r requirements/base.txt",
        "-r requirements/missing.txt",
        "-e git+https://github.com/example/internal-auth.git@v2.1.0#egg=internal-auth",
        "internal-billing @ git+https://github.com/example/billing.git@main",
        "https://files.example.com/vendored/pdfkit-1.0.0.tar.gz",
        "./wheels/legacy_reports-0.9-py3-none-any.whl",
    ]


def test_requirements_file_follows_r_includes_relative_to_the_including_file() -> None:
    result = parse_requirements_file(
        FIXTURES / "pip" / "requirements" / "dev.txt",
        display_path="requirements/dev.txt",
        root=FIXTURES / "pip",
    )

    assert summary(result) == {
        # requirements/base.txt through test.txt: runtime whoever includes it.
        "Django": (">=4.2,<5.0", RUNTIME, True),
        "djangorestframework": ("~=3.14", RUNTIME, True),
        "celery": ("==5.3.6", RUNTIME, True),
        "requests": (">= 2.31.0", RUNTIME, True),
        "importlib-metadata": ("*", RUNTIME, True),
        # requirements/test.txt
        "pytest": ("==7.4.3", TEST, True),
        "pytest-django": (">=4.7", TEST, True),
        "factory_boy": ("*", TEST, True),
        "coverage": ("*", TEST, True),
        # ../requirements.txt, through --requirement=
        "gunicorn": ("==21.2.0", RUNTIME, True),
        "psycopg": ("==3.1.13", RUNTIME, True),
        "sentry-sdk": (">=1.38", RUNTIME, True),
        # requirements/dev.txt itself
        "ipython": ("*", DEV, True),
        "django-debug-toolbar": ("==4.2.0", DEV, True),
    }
    assert {d.manifest_path for d in result.dependencies} == {"requirements/dev.txt"}
    assert "-r requirements/missing.txt" in result.skipped
    assert "-e ../tools/lint-rules" in result.skipped


def test_requirements_constraint_files_add_no_dependencies() -> None:
    result = parse_requirements_file(FIXTURES / "pip" / "requirements" / "test.txt")

    names = {d.name for d in result.dependencies}
    assert "urllib3" not in names
    assert "certifi" not in names
    assert "pytest" in names
    assert "Django" in names


def test_requirements_file_does_not_read_includes_outside_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("leaked-package==1.0\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("-r ../secret.txt\n-r /etc/hostname\nflask\n")

    result = parse_requirements_file(project / "requirements.txt")

    assert summary(result) == {"flask": ("*", RUNTIME, True)}
    assert result.skipped == ["-r ../secret.txt", "-r /etc/hostname"]


def test_requirements_file_include_cycle_ends(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r requirements-dev.txt\nflask\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest\n")

    result = parse_requirements_file(tmp_path / "requirements.txt")

    assert summary(result) == {"pytest": ("*", DEV, True), "flask": ("*", RUNTIME, True)}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("requirements.txt", RUNTIME),
        ("requirements-dev.txt", DEV),
        ("dev-requirements.txt", DEV),
        ("requirements_test.txt", TEST),
        ("test-requirements.in", TEST),
        ("requirements/tests.txt", TEST),
        ("requirements/docs.in", DEV),
        ("requirements/production.txt", RUNTIME),
    ],
)
def test_requirements_type_follows_the_file_name(path: str, expected: DependencyType) -> None:
    result = parse_text(path, "attrs>=23\n")

    assert summary(result) == {"attrs": (">=23", expected, True)}


def test_requirements_parser_does_not_claim_manifest_in() -> None:
    chosen = detect("docs-requirements.in")
    assert chosen is not None
    assert chosen.name == "requirements.txt"
    assert chosen.matches("requirements/base.txt")
    assert not chosen.matches("MANIFEST.in")
    assert not chosen.matches("notes.txt")


def test_requirements_continuations_comments_and_options() -> None:
    text = (
        "# a comment line\n"
        "--extra-index-url https://pypi.example.com/simple  # private mirror\n"
        "--pre\n"
        "numpy==1.26.2 \\\n"
        "    --hash=sha256:0123 \\\n"
        "    --hash=sha256:4567\n"
        "pandas \\\n"
        "  >=2.1  # data frames\n"
        'uvloop ; sys_platform != "win32"\n'
        "Pillow[avif]>=10.1\n"
        "old-style (>=1.0)\n"
        "url-ish#fragment-is-not-a-comment==1.0\n"
    )

    result = parse_requirements("requirements.txt", text)

    assert summary(result) == {
        "numpy": ("==1.26.2", RUNTIME, True),
        "pandas": (">=2.1", RUNTIME, True),
        "uvloop": ("*", RUNTIME, True),
        "Pillow": (">=10.1", RUNTIME, True),
        "old-style": (">=1.0", RUNTIME, True),
    }
    assert result.skipped == ["url-ish#fragment-is-not-a-comment==1.0"]


def test_requirements_invalid_lines_are_skipped_not_turned_into_packages() -> None:
    text = "requests>=2\nthis is not a requirement\nbroken===\n.\n../sibling\nlocal.whl\n"

    result = parse_requirements("requirements.txt", text)

    assert summary(result) == {"requests": (">=2", RUNTIME, True)}
    assert result.skipped == [
        "this is not a requirement",
        "broken===",
        ".",
        "../sibling",
        "local.whl",
    ]


def test_empty_requirements_file_has_no_dependencies() -> None:
    assert (FIXTURES / "empty" / "requirements.txt").stat().st_size == 0

    result = fixture("empty/requirements.txt")

    assert result.dependencies == []
    assert result.skipped == []


def test_duplicate_requirement_spellings_collapse_to_one_package() -> None:
    text = "Flask_SQLAlchemy>=3\nflask-sqlalchemy==3.1.1\nFLASK.SQLALCHEMY\n"

    result = parse_requirements("requirements.txt", text)

    assert summary(result) == {"Flask_SQLAlchemy": (">=3", RUNTIME, True)}


# pyproject.toml ---------------------------------------------------------------------------


def test_pyproject_pep621_reads_build_runtime_extras_and_dependency_groups() -> None:
    result = fixture("pep621/pyproject.toml")

    assert summary(result) == {
        "hatchling": (">=1.18", BUILD, True),
        "hatch-vcs": ("*", BUILD, True),
        "httpx": (">=0.25,<1", RUNTIME, True),
        "pydantic": (">=2.4", RUNTIME, True),
        "typing-extensions": ("*", RUNTIME, True),
        # Listed again in the cli extra; the runtime entry wins.
        "rich": ("*", RUNTIME, True),
        "typer": (">=0.9", OPTIONAL, True),
        "asyncpg": ("==0.29.0", OPTIONAL, True),
        # Also in [tool.uv] dev-dependencies; test is the stronger type.
        "pytest": (">=7.4", TEST, True),
        "pytest-asyncio": ("*", TEST, True),
        "respx": ("*", TEST, True),
        "ruff": ("==0.1.6", DEV, True),
        "mypy": (">=1.7", DEV, True),
        "pre-commit": ("*", DEV, True),
        "mkdocs-material": ("*", DEV, True),
        "ipython": ("*", DEV, True),
    }
    # The `all` extra names the project itself, which is not a dependency.
    assert "acme-widgets" not in {d.name.lower() for d in result.dependencies}
    assert result.skipped == [
        "acme-core @ https://files.example.com/acme_core-1.0-py3-none-any.whl"
    ]


def test_dependency_groups_survive_include_cycles_and_unknown_groups() -> None:
    text = """
[dependency-groups]
Test = [{include-group = "lint"}, "pytest"]
lint = [{include-group = "test"}, "ruff"]
docs = [{include-group = "missing"}, "sphinx"]
"""
    result = parse_pyproject("pyproject.toml", text)

    assert summary(result) == {
        "pytest": ("*", TEST, True),
        # Pulled into the test group by its include, so the stronger test type wins.
        "ruff": ("*", TEST, True),
        "sphinx": ("*", DEV, True),
    }
    assert result.skipped == ["include-group missing"]


def test_pyproject_poetry_reads_main_groups_and_legacy_dev_dependencies() -> None:
    result = fixture("poetry/pyproject.toml")

    assert summary(result) == {
        "poetry-core": (">=1.0.0", BUILD, True),
        "fastapi": ("^0.104.1", RUNTIME, True),
        "SQLAlchemy": ("^2.0.23", RUNTIME, True),
        "uvicorn": (">=0.24", RUNTIME, True),
        "boto3": ("^1.33", OPTIONAL, True),
        "numpy": ("<1.25 || ^1.26", RUNTIME, True),
        "redis": ("*", RUNTIME, True),
        "ipdb": ("^0.13", DEV, True),
        "pytest": ("^7.4", TEST, True),
        "pytest-cov": ("^4.1", TEST, True),
        "httpx": ("^0.25", TEST, True),
        "ruff": ("^0.1.6", DEV, True),
        "black": ("^23.11", DEV, True),
    }
    assert "python" not in {d.name for d in result.dependencies}
    assert result.skipped == [
        "payments-sdk @ https://github.com/example/payments-sdk.git",
        "shared-models @ ../shared-models",
    ]


def test_pyproject_pdm_dev_dependencies_skip_editable_entries() -> None:
    result = fixture("pdm/pyproject.toml")

    assert summary(result) == {
        "pdm-backend": ("*", BUILD, True),
        "flask": (">=3.0", RUNTIME, True),
        "gunicorn": ("*", RUNTIME, True),
        "pytest": (">=7", TEST, True),
        "pytest-mock": ("*", TEST, True),
        "flake8": ("*", DEV, True),
        "watchdog": ("*", DEV, True),
    }
    assert result.skipped == ["-e file:///${PROJECT_ROOT}/packages/plugin#egg=pdm-app-plugin"]


def test_pyproject_with_no_dependency_tables_has_none() -> None:
    result = parse_pyproject("pyproject.toml", "[tool.black]\nline-length = 100\n")

    assert result.dependencies == []


# setup.cfg --------------------------------------------------------------------------------


def test_setup_cfg_reads_install_setup_tests_and_extras_requires() -> None:
    result = fixture("setuptools/setup.cfg")

    assert summary(result) == {
        "click": (">=7.0", RUNTIME, True),
        "PyYAML": (">=5.4,<7", RUNTIME, True),
        "requests": ("*", RUNTIME, True),
        "setuptools_scm": (">=6.2", BUILD, True),
        "wheel": ("*", BUILD, True),
        "pytest": ("*", TEST, True),
        "mock": (">=4", TEST, True),
        "ruamel.yaml": (">=0.17", OPTIONAL, True),
        "tox": ("*", OPTIONAL, True),
    }
    assert result.skipped == ["internal-lib @ git+https://git.example.com/libs/internal-lib.git"]


def test_setup_cfg_file_directive_is_skipped() -> None:
    text = "[options]\ninstall_requires = file: requirements.in\n"

    result = parse_setup_cfg("setup.cfg", text)

    assert result.dependencies == []
    assert result.skipped == ["file: requirements.in"]


# Pipfile and Pipfile.lock -----------------------------------------------------------------


def test_pipfile_reads_packages_and_dev_packages() -> None:
    result = fixture("pipenv/Pipfile")

    assert summary(result) == {
        "flask": ("==3.0.0", RUNTIME, True),
        "requests": (">=2.31", RUNTIME, True),
        "jinja2": ("*", RUNTIME, True),
        "pytest": ("*", DEV, True),
        "black": ("==23.11.0", DEV, True),
    }
    assert result.skipped == [
        "my-utils @ ./libs/my-utils",
        "report-engine @ https://github.com/example/report-engine.git",
    ]


def test_pipfile_lock_reads_default_and_develop_as_locked_pins() -> None:
    result = fixture("pipenv/Pipfile.lock")

    assert summary(result) == {
        # In both sections: runtime wins.
        "blinker": ("==1.7.0", RUNTIME, False),
        "flask": ("==3.0.0", RUNTIME, False),
        "requests": ("==2.31.0", RUNTIME, False),
        "pytest": ("==7.4.3", DEV, False),
        "iniconfig": ("==2.0.0", DEV, False),
    }
    assert result.skipped == [
        "my-utils @ ./libs/my-utils",
        "report-engine @ https://github.com/example/report-engine.git",
    ]


# poetry.lock ------------------------------------------------------------------------------


def test_poetry_lock_2x_types_packages_by_group() -> None:
    result = fixture("poetry/poetry.lock")

    assert summary(result) == {
        "anyio": ("==4.1.0", RUNTIME, False),
        "black": ("==23.11.0", DEV, False),
        "boto3": ("==1.33.6", OPTIONAL, False),
        "click": ("==8.1.7", RUNTIME, False),
        "coverage": ("==7.3.2", TEST, False),
        "ipdb": ("==0.13.13", DEV, False),
        # "sqlalchemy" is listed a second time for another marker.
        "SQLAlchemy": ("==2.0.23", RUNTIME, False),
    }
    assert result.skipped == [
        "payments-sdk @ https://github.com/example/payments-sdk.git",
        "shared-models @ ../shared-models",
    ]


def test_poetry_lock_1x_types_packages_by_category() -> None:
    result = fixture("poetry-legacy/poetry.lock")

    assert summary(result) == {
        "attrs": ("==21.2.0", DEV, False),
        "certifi": ("==2021.10.8", RUNTIME, False),
        "pytest": ("==6.2.5", DEV, False),
        "requests": ("==2.26.0", RUNTIME, False),
        "pyopenssl": ("==21.0.0", OPTIONAL, False),
    }


def test_poetry_lock_with_unknown_lock_version_names_the_key() -> None:
    text = '[[package]]\nname = "a"\nversion = "1"\n\n[metadata]\nlock-version = "3.0"\n'

    with pytest.raises(ManifestError, match=r"poetry.lock: unsupported metadata.lock-version"):
        parse_poetry_lock("poetry.lock", text)


def test_huge_poetry_lock_parses_every_package() -> None:
    blocks = [
        f'[[package]]\nname = "package-{i}"\nversion = "1.{i}.0"\n'
        f'description = "Package number {i}"\noptional = false\npython-versions = ">=3.8"\n'
        f'groups = ["{"main" if i % 4 else "dev"}"]\n'
        f'files = [\n    {{file = "package_{i}-1.{i}.0.tar.gz", hash = "sha256:{i:064x}"}},\n]\n'
        for i in range(10_000)
    ]
    text = "\n".join(blocks) + '\n[metadata]\nlock-version = "2.1"\npython-versions = "^3.10"\n'

    started = time.perf_counter()
    result = parse_poetry_lock("poetry.lock", text)
    elapsed = time.perf_counter() - started

    assert len(result.dependencies) == 10_000
    assert sum(d.dependency_type is DEV for d in result.dependencies) == 2_500
    assert result.dependencies[1234].requirement == "==1.1234.0"
    assert elapsed < 5


def test_broken_poetry_lock_reports_the_line_in_the_file_as_written() -> None:
    text = (
        '[[package]]\nname = "a"\nversion = "1.0"\nfiles = [\n'
        '    {file = "a-1.0.tar.gz", hash = "sha256:00"},\n]\n\n'
        '[[package]]\nname = "b"\nversion = \n'
    )

    with pytest.raises(ManifestError) as caught:
        parse_poetry_lock("poetry.lock", text)

    assert caught.value.line == 10


def test_poetry_lock_entries_of_the_wrong_shape_are_skipped() -> None:
    text = (
        '[[package]]\nname = "good"\nversion = "1.0"\nsource = ["not", "a", "table"]\n\n'
        '[[package]]\nname = ["bad"]\nversion = "1.0"\n\n'
        '[[package]]\nname = "unversioned"\nversion = 3\n'
    )

    result = parse_poetry_lock("poetry.lock", text)

    assert summary(result) == {"good": ("==1.0", RUNTIME, False)}
    assert result.skipped == [" @ ?", "unversioned @ ?"]


# uv.lock -----------------------------------------------------------------------------------


def test_uv_lock_marks_what_the_workspace_asks_for_as_direct() -> None:
    result = fixture("uv/uv.lock")

    assert summary(result) == {
        "annotated-types": ("==0.7.0", RUNTIME, False),
        "anyio": ("==4.6.2.post1", RUNTIME, False),
        "certifi": ("==2024.8.30", RUNTIME, False),
        # Only reached through the cli extra.
        "click": ("==8.1.7", OPTIONAL, False),
        # Through click (cli extra) and pytest (test group): optional is the stronger.
        "colorama": ("==0.4.6", OPTIONAL, False),
        # httpx[http2] pulls these in at runtime.
        "h2": ("==4.1.0", RUNTIME, False),
        "hpack": ("==4.0.0", RUNTIME, False),
        "httpcore": ("==1.0.6", RUNTIME, False),
        "h11": ("==0.14.0", RUNTIME, False),
        "httpx": ("==0.27.2", RUNTIME, True),
        "hyperframe": ("==6.0.1", RUNTIME, False),
        "idna": ("==3.10", RUNTIME, False),
        "iniconfig": ("==2.0.0", TEST, False),
        "packaging": ("==24.2", TEST, False),
        # Asked for by the acme-plugins workspace member.
        "pluggy": ("==1.5.0", RUNTIME, True),
        "pydantic": ("==2.9.2", RUNTIME, True),
        "pydantic-core": ("==2.23.4", RUNTIME, False),
        "pytest": ("==8.3.3", TEST, True),
        "ruff": ("==0.7.3", DEV, True),
        "sniffio": ("==1.3.1", RUNTIME, False),
        "typer": ("==0.12.5", OPTIONAL, True),
        "typing-extensions": ("==4.12.2", RUNTIME, False),
    }
    assert result.skipped == [
        "vendored-lib @ https://github.com/example/vendored-lib?rev=v1.0.0"
        "#5c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
    ]


def test_uv_lock_virtual_workspace_root_uses_the_manifest_section() -> None:
    text = """
version = 1
requires-python = ">=3.12"

[manifest]
members = ["tool"]
requirements = [{ name = "requests" }]

[manifest.dependency-groups]
lint = [{ name = "ruff" }]

[[package]]
name = "tool"
version = "0.1.0"
source = { virtual = "tools/tool" }

[[package]]
name = "requests"
version = "2.32.3"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "ruff"
version = "0.8.0"
source = { registry = "https://pypi.org/simple" }
"""
    result = parse_uv_lock("uv.lock", text)

    assert summary(result) == {
        "requests": ("==2.32.3", RUNTIME, True),
        "ruff": ("==0.8.0", DEV, True),
    }


def test_uv_lock_ignores_malformed_extras_and_tables() -> None:
    text = """
version = 1

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "requests", extra = 1.5 }, "not-a-table"]
optional-dependencies = "nope"

[[package]]
name = "requests"
version = "2.32.3"
source = { registry = "https://pypi.org/simple" }
"""
    result = parse_uv_lock("uv.lock", text)

    assert summary(result) == {"requests": ("==2.32.3", RUNTIME, True)}


def test_uv_lock_with_unknown_version_names_the_key() -> None:
    with pytest.raises(ManifestError, match=r"unsupported version 2"):
        parse_uv_lock("uv.lock", "version = 2\n")


# bad input ---------------------------------------------------------------------------------


def test_broken_toml_reports_the_line() -> None:
    text = '[project]\nname = "x"\ndependencies = [\n  "httpx",\n  oops\n]\n'

    with pytest.raises(ManifestError) as caught:
        parse_text("pyproject.toml", text)

    assert caught.value.path == "pyproject.toml"
    assert caught.value.line == 5
    assert str(caught.value).startswith("pyproject.toml:5: invalid TOML")


def test_broken_pipfile_lock_json_reports_the_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_text("Pipfile.lock", '{\n  "default": {\n    "flask": {,}\n  }\n}\n')

    assert caught.value.line == 3


def test_setup_cfg_without_section_header_reports_the_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_text("setup.cfg", "install_requires = flask\n")

    assert caught.value.line == 1


def test_dependencies_of_the_wrong_type_name_the_key() -> None:
    with pytest.raises(ManifestError, match=r"'project.dependencies' must be a list"):
        parse_text("pyproject.toml", '[project]\ndependencies = "flask"\n')


def test_non_utf8_requirements_file_is_refused() -> None:
    with pytest.raises(ManifestError, match="not UTF-8"):
        decode("requirements.txt", b"flask\n\xff\xfe\n")
