"""A deterministic synthetic dependency graph with the shapes of real data.

Package popularity is Zipf-like, tuned so the hottest package is used by about 4%
of repositories; stars are Pareto-distributed and organizations (about 15% of
owners) own the larger, more starred repositories. All packages are PyPI names so
the hot, median and tail packages are addressable with one URL shape.
"""

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wump.ingest.identity import Ecosystem
from wump.ingest.loader import RepositoryRef, Snapshot
from wump.ingest.parsers import ParsedDependency
from wump.models import DependencySource, DependencyType, OwnerKind

SCALES = {
    "small": 100_000,
    "large": 10_000_000,
}
# The shape: the hottest package near 400k dependents among 1M repositories.
HOT_SHARE = 0.4
SYLLABLES = (
    *("ka", "ri", "to", "mo", "na", "lu", "ze", "pi", "ra", "so", "ve", "li", "da", "no"),
    *("gu", "fi", "te", "ba", "co", "xe", "yo", "qua", "lin", "dex", "ser", "tor", "vel"),
)
TYPES = (
    *(DependencyType.RUNTIME,) * 14,
    *(DependencyType.DEVELOPMENT,) * 3,
    DependencyType.TEST,
    DependencyType.BUILD,
    DependencyType.OPTIONAL,
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Shape:
    edges: int
    repositories: int
    owners: int
    packages: int

    @classmethod
    def for_edges(cls, edges: int) -> "Shape":
        # The large scale: 10M edges, 1M repositories, 200k owners, 2M packages.
        return cls(edges, max(edges // 10, 10), max(edges // 50, 5), max(edges // 5, 50))


@dataclass(slots=True)
class Graph:
    shape: Shape
    snapshots: list[Snapshot]
    package_names: list[str]

    @property
    def edges(self) -> int:
        return sum(len(s.dependencies) for s in self.snapshots)


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def _offset_for_hot_share(packages: int, draws_per_repository: float) -> float:
    """The Zipf offset q (weights 1/(rank+q)) that gives rank 0 `HOT_SHARE` of repositories."""
    target = draws_per_repository / HOT_SHARE
    low, high = 1.0, float(packages)
    for _ in range(60):
        q = (low + high) / 2
        if q * math.log((packages + q) / q) < target:
            low = q
        else:
            high = q
    return (low + high) / 2


def build(shape: Shape, seed: int) -> Graph:
    rng = random.Random(seed)
    names = [f"pkg{rank}-{_word(rng, 2)}" for rank in range(shape.packages)]
    per_repository = shape.edges / shape.repositories
    q = _offset_for_hot_share(shape.packages, per_repository)
    cumulative = list(itertools.accumulate(1 / (rank + q) for rank in range(shape.packages)))
    owners = _owners(rng, shape.owners)
    owner_weights = list(
        itertools.accumulate(
            (20.0 if kind is OwnerKind.ORGANIZATION else 1.0) / (i + 1) ** 0.7
            for i, (_, kind) in enumerate(owners)
        )
    )
    snapshots = []
    for index in range(shape.repositories):
        login, kind = owners[bisect.bisect_left(owner_weights, rng.random() * owner_weights[-1])]
        count = max(1, min(int(rng.lognormvariate(0, 0.7) * per_repository / 1.28), 500))
        ranks = set(rng.choices(range(shape.packages), cum_weights=cumulative, k=count))
        snapshots.append(
            Snapshot(
                _repository(rng, login, kind, index),
                DependencySource.MANIFEST,
                [_dependency(rng, names[rank]) for rank in sorted(ranks)],
            )
        )
    return Graph(shape, snapshots, names)


def _owners(rng: random.Random, count: int) -> list[tuple[str, OwnerKind]]:
    return [
        (f"{_word(rng, 2)}{i}", OwnerKind.ORGANIZATION if rng.random() < 0.15 else OwnerKind.USER)
        for i in range(count)
    ]


def _repository(rng: random.Random, login: str, kind: OwnerKind, index: int) -> RepositoryRef:
    scale = 40 if kind is OwnerKind.ORGANIZATION else 1
    return RepositoryRef(
        owner=login,
        name=f"{_word(rng, 2)}-{index}",
        owner_kind=kind,
        stars=int((rng.paretovariate(1.1) - 1) * scale),
        forks=int(rng.paretovariate(1.3) - 1),
        is_fork=rng.random() < 0.05,
        is_archived=rng.random() < 0.05,
        language="Python",
        pushed_at=NOW - timedelta(days=rng.randint(0, 900)),
    )


def _dependency(rng: random.Random, name: str) -> ParsedDependency:
    return ParsedDependency(
        ecosystem=Ecosystem.PYPI,
        name=name,
        requirement=f">={rng.randint(0, 9)}.{rng.randint(0, 30)}",
        dependency_type=rng.choice(TYPES),
        is_direct=rng.random() < 0.8,
        manifest_path="requirements.txt",
    )


def changed(graph: Graph, seed: int, share: float = 0.1) -> list[Snapshot]:
    """`share` of the repositories again, each with `share` of its edges swapped for others."""
    rng = random.Random(seed + 1)
    chosen = rng.sample(graph.snapshots, max(1, int(len(graph.snapshots) * share)))
    result = []
    for snapshot in chosen:
        deps = list(snapshot.dependencies)
        taken = {d.name for d in deps}
        for position in rng.sample(range(len(deps)), max(1, int(len(deps) * share))):
            name = graph.package_names[rng.randrange(len(graph.package_names))]
            if name not in taken:
                taken.add(name)
                deps[position] = _dependency(rng, name)
        result.append(Snapshot(snapshot.repository, snapshot.source, deps))
    return result
