"""The sponsorship-prospect score: one formula, in SQL (to sort) and in Python (to explain).

    score = sum(points_i * f_i),  points_i = 100 * weight_i / sum(weights),  f_i in [0, 1]

    f_repositories    = min(1, ln(1 + repositories) / ln(1 + repositories_saturation))
    f_stars           = min(1, ln(1 + stars) / ln(1 + stars_saturation))
    f_organization    = 1 if the owner is an organization, not a user
    f_verified        = 1 if the code host verified the owner
    f_contact         = 1 if the owner lists a company or a website
    f_recent_activity = 1 if a dependent repository was pushed within `recent_activity_days`
                        (`recent`, computed once per row by `Scorer.recent`)
    f_runtime         = 1 if any dependent repository uses the package other than for dev/test
    f_sponsorship     = 1 if the owner has a Sponsors listing or sponsors others (unknown: 0)

The inputs are the organization's dependent repositories *after* the query's
filters. The SQL expression orders the list; `factors()` recomputes the same
terms from the row for `score_factors`, so the two always agree.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, or_

from wump.core.config import ScoringWeights
from wump.models import Organization, OwnerKind
from wump.packages.schemas import ScoreFactors


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    """The columns the score reads; SQL expressions or row values alike."""

    repositories: Any
    stars: Any
    recent: Any
    runtime: Any
    kind: Any
    is_verified: Any
    company: Any
    website_url: Any
    has_sponsors_listing: Any
    sponsors_others_count: Any

    @classmethod
    def joined_to_owner(
        cls, *, repositories: Any, stars: Any, recent: Any, runtime: Any
    ) -> "ScoreInputs":
        """SQL inputs for rows joined to `organizations`: the owner's columns from there."""
        return cls(
            repositories=repositories,
            stars=stars,
            recent=recent,
            runtime=runtime,
            kind=Organization.kind,
            is_verified=Organization.is_verified,
            company=Organization.company,
            website_url=Organization.website_url,
            has_sponsors_listing=Organization.has_sponsors_listing,
            sponsors_others_count=Organization.sponsors_others_count,
        )


def _float(value: float) -> ColumnElement[float]:
    return literal(value, Float)


def _present(column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), column != "")


@dataclass(frozen=True, slots=True)
class Scorer:
    weights: ScoringWeights
    as_of: datetime

    @property
    def recent_cutoff(self) -> datetime:
        return self.as_of - timedelta(days=self.weights.recent_activity_days)

    def points(self) -> dict[str, float]:
        """Each factor's maximum contribution; together they make 100."""
        w = self.weights
        scale = 100.0 / w.total_weight
        return {
            "repositories": w.repositories_weight * scale,
            "stars": w.stars_weight * scale,
            "organization": w.organization_weight * scale,
            "verified": w.verified_weight * scale,
            "contact": w.contact_weight * scale,
            "recent_activity": w.recent_activity_weight * scale,
            "runtime": w.runtime_weight * scale,
            "sponsorship": w.sponsorship_weight * scale,
        }

    def recent(self, last_pushed_at: Any) -> ColumnElement[bool]:
        """Whether the last push is inside the recent-activity window (never NULL)."""
        return case((last_pushed_at >= self.recent_cutoff, True), else_=False)

    def expression(self, c: ScoreInputs) -> ColumnElement[float]:
        points = self.points()
        terms = [
            self._log_term(c.repositories, self.weights.repositories_saturation)
            * _float(points["repositories"]),
            self._log_term(c.stars, self.weights.stars_saturation) * _float(points["stars"]),
            self._flag(c.kind == OwnerKind.ORGANIZATION.value, points["organization"]),
            self._flag(c.is_verified.is_(True), points["verified"]),
            self._flag(or_(_present(c.company), _present(c.website_url)), points["contact"]),
            self._flag(c.recent.is_(True), points["recent_activity"]),
            self._flag(c.runtime > 0, points["runtime"]),
            self._flag(
                or_(c.has_sponsors_listing.is_(True), c.sponsors_others_count > 0),
                points["sponsorship"],
            ),
        ]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return cast(total, Float)

    @staticmethod
    def _log_term(count: Any, saturation: int) -> ColumnElement[float]:
        # ln() of a float on both databases (on PostgreSQL a bigint would pick numeric).
        scaled = func.ln(cast(count, Float) + _float(1.0)) * _float(1.0 / math.log1p(saturation))
        return case((count >= saturation, _float(1.0)), else_=scaled)

    @staticmethod
    def _flag(condition: ColumnElement[bool], points: float) -> ColumnElement[float]:
        return case((condition, _float(points)), else_=_float(0.0))

    def factors(self, row: Mapping[Any, Any]) -> ScoreFactors:
        """The same terms as `expression`, from a fetched row, rounded for display."""
        points = self.points()
        fractions = {
            "repositories": _log_fraction(
                row["repositories"], self.weights.repositories_saturation
            ),
            "stars": _log_fraction(row["stars"], self.weights.stars_saturation),
            "organization": row["kind"] == OwnerKind.ORGANIZATION.value,
            "verified": bool(row["is_verified"]),
            "contact": bool(row["company"]) or bool(row["website_url"]),
            "recent_activity": bool(row["recent"]),
            "runtime": bool(row["runtime"]),
            "sponsorship": bool(row["has_sponsors_listing"])
            or (row["sponsors_others_count"] or 0) > 0,
        }
        return ScoreFactors(
            **{name: round(points[name] * float(f), 2) for name, f in fractions.items()}
        )


def _log_fraction(count: int, saturation: int) -> float:
    if count >= saturation:
        return 1.0
    return math.log1p(count) / math.log1p(saturation)
