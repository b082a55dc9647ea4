"""Precomputed dependents: edge copies of owner and stars, per-owner rollups, counters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

The rollup rows and package counters start empty; `wump migrate` fills them
(`wump rollups rebuild`) when it applies this revision to a database with edges,
because their score needs the configured weights.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PACKAGE_COUNTERS = (
    "dependent_repositories_count",
    "dependent_organizations_count",
    "ranked_repositories_count",
    "ranked_organizations_count",
)


def _counter(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


# On SQLite, a batch operation that rebuilds a table drops the old one, and dropping a
# table that others reference deletes their rows by ON DELETE CASCADE. Only
# `dependencies`, which nothing references, is ever rebuilt; the other tables get
# plain ADD COLUMN / DROP COLUMN, which SQLite does in place.


def upgrade() -> None:
    op.add_column("dependencies", sa.Column("owner_id", BIGINT_ID, nullable=True))
    op.add_column("dependencies", _counter("stars"))
    op.execute(
        "UPDATE dependencies SET owner_id = "
        "(SELECT r.owner_id FROM repositories r WHERE r.id = dependencies.repository_id)"
    )
    op.execute(
        "UPDATE dependencies SET stars = "
        "(SELECT r.stars FROM repositories r WHERE r.id = dependencies.repository_id)"
    )
    with op.batch_alter_table("dependencies") as batch:
        batch.alter_column("owner_id", existing_type=BIGINT_ID, nullable=False)
        batch.drop_index("ix_dependencies_package_id_repository_id")
        batch.create_index(
            "ix_dependencies_package_id_stars_repository_id",
            ["package_id", "stars", "repository_id"],
        )
        batch.create_index(
            "ix_dependencies_package_id_owner_id_stars_repository_id",
            ["package_id", "owner_id", "stars", "repository_id"],
        )

    for name in _PACKAGE_COUNTERS:
        op.add_column("packages", _counter(name))
    op.create_index(
        "ix_packages_dependent_repositories_count_id",
        "packages",
        ["dependent_repositories_count", "id"],
    )

    op.create_table(
        "dependent_owners",
        sa.Column("package_id", BIGINT_ID, nullable=False),
        sa.Column("owner_id", BIGINT_ID, nullable=False),
        _counter("edges"),
        _counter("repositories"),
        sa.Column("stars", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_pushed_at", sa.DateTime(timezone=True)),
        sa.Column("recent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("score", sa.Float(), nullable=False, server_default=sa.text("-1")),
        sa.PrimaryKeyConstraint("package_id", "owner_id", name="pk_dependent_owners"),
    )
    for columns in (("package_id", "score", "owner_id"), ("package_id", "stars", "owner_id")):
        op.create_index(f"ix_dependent_owners_{'_'.join(columns)}", "dependent_owners", columns)
    op.create_index(
        "ix_dependent_owners_package_id_repositories_owner_id",
        "dependent_owners",
        ["package_id", "repositories", "owner_id"],
    )
    op.create_index("ix_dependent_owners_owner_id", "dependent_owners", ["owner_id"])


def downgrade() -> None:
    op.drop_table("dependent_owners")
    op.drop_index("ix_packages_dependent_repositories_count_id", table_name="packages")
    for name in _PACKAGE_COUNTERS:
        # Not `op.drop_column`: on SQLite it would rebuild (and so empty) the table.
        op.execute(sa.text(f"ALTER TABLE packages DROP COLUMN {name}"))
    with op.batch_alter_table("dependencies") as batch:
        batch.drop_index("ix_dependencies_package_id_owner_id_stars_repository_id")
        batch.drop_index("ix_dependencies_package_id_stars_repository_id")
        batch.create_index(
            "ix_dependencies_package_id_repository_id", ["package_id", "repository_id"]
        )
        batch.drop_column("stars")
        batch.drop_column("owner_id")
