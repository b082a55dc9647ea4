from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, false, text
from sqlalchemy.orm import Mapped, mapped_column

from wump.models.base import Base, BigIntId


class DependentOwner(Base):
    """The edges of one package rolled up per owner: the dependents page, precomputed.

    One row per (package, owner) with at least one edge from a repository of a
    live (not deleted) owner. `edges` counts all of them; the other columns
    describe the *ranked view* that `/dependents` shows by default: dependency
    types other than development and test, no forks, no archived repositories.
    `score` is the sponsorship score of that view (see `packages.scoring`), or
    -1 when the view is empty, so such rows sort last.

    The loader, enrichment and the daily rescore keep it exact
    (`wump.rollups`); `wump rollups rebuild` recomputes it from the edges.
    """

    __tablename__ = "dependent_owners"
    __table_args__ = (
        # Backward scans of these serve "highest first, ties by owner id descending".
        Index(None, "package_id", "score", "owner_id"),
        Index(None, "package_id", "stars", "owner_id"),
        Index(None, "package_id", "repositories", "owner_id"),
        Index(None, "owner_id"),
    )

    # No foreign keys: the rows are derived from edges that have them, and checking
    # two per row would cost a third of every refresh.
    package_id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    edges: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    repositories: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    stars: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    last_pushed_at: Mapped[datetime | None]
    # Whether `score` includes the recent-activity points; the daily rescore clears
    # it once `last_pushed_at` leaves the window.
    recent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    score: Mapped[float] = mapped_column(Float, default=-1.0, server_default=text("-1"))
