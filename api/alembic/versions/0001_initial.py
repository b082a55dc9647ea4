"""Initial schema: packages, organizations, repositories, dependencies, api_keys, job_executions.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NOW = sa.func.current_timestamp()


def _ts(
    name: str, *, nullable: bool = True, server_default: sa.ColumnElement[Any] | None = None
) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=server_default
    )


def _timestamps() -> list[sa.Column[object]]:
    return [
        _ts("created_at", nullable=False, server_default=NOW),
        _ts("updated_at", nullable=False, server_default=NOW),
    ]


def _counter(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def _flag(name: str, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name, sa.Boolean(), nullable=False, server_default=sa.true() if default else sa.false()
    )


def upgrade() -> None:
    op.create_table(
        "packages",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("ecosystem", sa.String(32), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("normalized_name", sa.String(512), nullable=False),
        sa.Column("purl", sa.String(1024), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("repository_url", sa.String(1024)),
        sa.Column("homepage_url", sa.String(1024)),
        sa.Column("latest_version", sa.String(256)),
        sa.Column("funding_urls", JSON, nullable=False),
        _flag("is_tracked"),
        _ts("last_requested_at"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_packages"),
        sa.UniqueConstraint("purl", name="uq_packages_purl"),
        sa.UniqueConstraint(
            "ecosystem", "normalized_name", name="uq_packages_ecosystem_normalized_name"
        ),
    )
    op.create_index("ix_packages_normalized_name", "packages", ["normalized_name"])

    op.create_table(
        "organizations",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("login", sa.String(255), nullable=False),
        sa.Column("login_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text()),
        sa.Column("company", sa.String(255)),
        sa.Column("website_url", sa.String(1024)),
        sa.Column("email", sa.String(320)),
        sa.Column("location", sa.String(255)),
        _flag("is_verified"),
        sa.Column("github_url", sa.String(1024)),
        sa.Column("sponsorship_url", sa.String(1024)),
        sa.Column("has_sponsors_listing", sa.Boolean()),
        sa.Column("sponsors_others_count", sa.Integer()),
        _counter("followers"),
        _counter("public_repos"),
        _counter("total_repositories"),
        _counter("total_stars"),
        _ts("enriched_at"),
        _ts("deleted_at"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
        sa.UniqueConstraint("host", "login_key", name="uq_organizations_host_login_key"),
    )
    op.create_index("ix_organizations_total_stars", "organizations", ["total_stars"])

    op.create_table(
        "repositories",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("owner_id", BIGINT_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(512), nullable=False),
        sa.Column("full_name_key", sa.String(512), nullable=False),
        sa.Column("html_url", sa.String(1024)),
        sa.Column("description", sa.Text()),
        _counter("stars"),
        _counter("forks"),
        _flag("is_fork"),
        _flag("is_archived"),
        sa.Column("primary_language", sa.String(64)),
        _ts("pushed_at"),
        sa.Column("default_branch", sa.String(255)),
        sa.Column("etag", sa.String(255)),
        _ts("scanned_at"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_repositories"),
        sa.UniqueConstraint("host", "full_name_key", name="uq_repositories_host_full_name_key"),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organizations.id"],
            name="fk_repositories_owner_id_organizations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_repositories_owner_id_stars", "repositories", ["owner_id", "stars"])

    op.create_table(
        "dependencies",
        sa.Column("repository_id", BIGINT_ID, nullable=False),
        sa.Column("package_id", BIGINT_ID, nullable=False),
        sa.Column("requirement", sa.String(512)),
        sa.Column("dependency_type", sa.String(16), nullable=False),
        _flag("is_direct", default=True),
        sa.Column("manifest_path", sa.String(1024)),
        sa.Column("source", sa.String(32), nullable=False),
        _counter("sources"),
        _ts("first_seen_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        sa.PrimaryKeyConstraint("repository_id", "package_id", name="pk_dependencies"),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name="fk_dependencies_repository_id_repositories",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
            name="fk_dependencies_package_id_packages",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_dependencies_package_id_repository_id", "dependencies", ["package_id", "repository_id"]
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer()),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_by", sa.String(255)),
        _ts("expires_at"),
        _ts("last_used_at"),
        _ts("revoked_at"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )

    op.create_table(
        "job_executions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("args", JSON, nullable=False),
        _counter("attempts"),
        _ts("started_at"),
        _ts("completed_at"),
        _counter("records_processed"),
        sa.Column("error_message", sa.Text()),
        sa.Column("metadata", JSON, nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_executions"),
    )
    op.create_index("ix_job_executions_job_type_status", "job_executions", ["job_type", "status"])
    op.create_index("ix_job_executions_created_at", "job_executions", ["created_at"])


def downgrade() -> None:
    for table in (
        "job_executions",
        "api_keys",
        "dependencies",
        "repositories",
        "organizations",
        "packages",
    ):
        op.drop_table(table)
