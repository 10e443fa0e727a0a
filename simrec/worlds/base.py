"""The world's tables: observable features and hidden ground truth, kept apart.

A :class:`World` holds two items tables and two users tables. The ``observable`` ones are what
a platform (and so an agent) can see: genre, price, text, release day, demographics. The
``hidden`` ones are the ground truth only the simulator knows: topic, quality, appeal,
interest, initial satisfaction, price sensitivity. Agents receive :class:`ObservableWorld`,
which holds no reference to hidden arrays; only ``oracle*`` agents get the hidden state,
through :meth:`simrec.engine.Engine.ground_truth`.

Every array of every table is read-only once the table is built (:func:`simrec.types.readonly`):
the world is built once per run and never changes, and an agent that writes into, say,
``world.items.price`` gets a ``ValueError`` instead of changing the run's revenue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simrec.types import freeze_arrays

__all__ = [
    "AGE_RANGE",
    "ItemFeatures",
    "ItemTruth",
    "KnowledgeGraph",
    "ObservableWorld",
    "SocialGraph",
    "UserFeatures",
    "UserTruth",
    "World",
    "scale_age",
]

#: Ages (years) a profile may hold; the envs' observation bounds come from it.
AGE_RANGE = (0.0, 120.0)
#: The age scaling of every observable profile: (age - 34) / 12.
_AGE_CENTRE, _AGE_SCALE = 34.0, 12.0


def scale_age(age: np.ndarray | float) -> np.ndarray:
    """The profile feature of an age in years, ``(age - 34) / 12``, float64.

    >>> scale_age(np.array([34, 46])).tolist()
    [0.0, 1.0]
    """
    return (np.asarray(age, dtype=np.float64) - _AGE_CENTRE) / _AGE_SCALE


@dataclass(frozen=True)
class ItemFeatures:
    """Observable item table (length M).

    Attributes:
        genre: Primary genre id, int16.
        creator: Creator/brand id (an observable attribute for graph-based agents), int32.
        price: Price, float32, currency.
        release_day: Day the item enters the catalog, float32, days.
        expire_day: Day the item leaves the catalog (inf: never), float32, days.
        title: Title text, one string per item.
        description: One-line description, one string per item.
    """

    genre: np.ndarray
    creator: np.ndarray
    price: np.ndarray
    release_day: np.ndarray
    expire_day: np.ndarray
    title: tuple[str, ...]
    description: tuple[str, ...]

    def __post_init__(self) -> None:
        """Make every array read-only."""
        freeze_arrays(self)

    def text(self, i: int) -> str:
        """Title and description of item ``i`` as one string (what a text encoder sees)."""
        return f"{self.title[i]}. {self.description[i]}"

    def available(self, day: float) -> np.ndarray:
        """Boolean mask of items in the catalog on ``day``."""
        return (self.release_day <= day) & (day < self.expire_day)


@dataclass(frozen=True)
class ItemTruth:
    """Hidden item table (length M).

    Attributes:
        topic: Unit topic vectors z_i, ``(M, d)`` float32.
        quality: Quality q_i in [0, 1], float32.
        appeal: Short-term attractiveness a_i in [0, 1], float32.
        clickbait: Whether the item was drawn as clickbait, bool.
        genre_centroid: Genre centroids :math:`c_g`, ``(G, d)`` float32.
    """

    topic: np.ndarray
    quality: np.ndarray
    appeal: np.ndarray
    clickbait: np.ndarray
    genre_centroid: np.ndarray

    def __post_init__(self) -> None:
        """Make every array read-only."""
        freeze_arrays(self)


@dataclass(frozen=True)
class UserFeatures:
    """Observable user table (length N, including users who arrive later).

    Attributes:
        age: Age in years, int16.
        stated_genre: Favourite genre the user stated at sign-up (noisy), int16.
        arrival_day: Day the user joins, float64, days (0 for the initial cohort).
        profile: Numeric profile features ``(N, 1 + G)`` float32: scaled age and a one-hot
            of the stated genre.
        description: Free-text observable profile per user (e.g. real demographics), or
            empty when the world has none.
    """

    age: np.ndarray
    stated_genre: np.ndarray
    arrival_day: np.ndarray
    profile: np.ndarray
    description: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Make every array read-only."""
        freeze_arrays(self)


@dataclass(frozen=True)
class UserTruth:
    """Hidden user table (length N): initial values of the dynamic hidden state.

    Attributes:
        interest: Unit interest vectors u_j, ``(N, d)`` float32.
        satisfaction: Initial satisfaction s_j in [0, 1], float32.
        price_sensitivity: Price sensitivity (> 0), float32.
        genre_mix: The genre mixture the interest was drawn around, ``(N, G)`` float32.
    """

    interest: np.ndarray
    satisfaction: np.ndarray
    price_sensitivity: np.ndarray
    genre_mix: np.ndarray

    def __post_init__(self) -> None:
        """Make every array read-only."""
        freeze_arrays(self)


@dataclass(frozen=True)
class KnowledgeGraph:
    """Observable item side-information as ``(head, relation, tail)`` triples.

    Entities ``0 .. M-1`` are the items themselves; the others are attribute values (a
    genre, a creator, a release period) or external entities (e.g. Freebase actors).

    Attributes:
        head: Head entity of each triple, int64.
        relation: Relation id of each triple, int64.
        tail: Tail entity of each triple, int64.
        n_entities: Number of entities (items first).
        relation_names: Name of each relation id.
    """

    head: np.ndarray
    relation: np.ndarray
    tail: np.ndarray
    n_entities: int
    relation_names: tuple[str, ...]

    def __post_init__(self) -> None:
        """Make every array read-only."""
        freeze_arrays(self)

    def __len__(self) -> int:
        """Number of triples."""
        return len(self.head)


@dataclass(frozen=True)
class SocialGraph:
    """Who follows whom, and the graph's communities.

    Attributes:
        follower: The following user of each edge, int64 (sorted by ``followee``).
        followee: The followed user of each edge, int64.
        offsets: ``(N + 1,)``: the followers of user *k* are
            ``follower[offsets[k]:offsets[k + 1]]``.
        cluster: Community of each user ``(N,)``, int64 in ``0 .. n_clusters - 1``.
    """

    follower: np.ndarray
    followee: np.ndarray
    offsets: np.ndarray
    cluster: np.ndarray

    def __post_init__(self) -> None:
        """Make every array read-only."""
        freeze_arrays(self)

    @property
    def n_users(self) -> int:
        """Number of users N."""
        return len(self.cluster)

    @property
    def n_clusters(self) -> int:
        """Number of communities."""
        return int(self.cluster.max()) + 1 if len(self.cluster) else 0

    def followers_of(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (index into ``users``, follower) pair: who sees what each of ``users`` shares."""
        lo, hi = self.offsets[users], self.offsets[users + 1]
        counts = hi - lo
        idx = np.repeat(np.arange(len(users)), counts)
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        return idx, self.follower[starts + np.arange(counts.sum())]

    def cross_share(self, treated: np.ndarray) -> float:
        """Share of the follow edges that join the two arms of an assignment."""
        if len(self.follower) == 0:
            return 0.0
        return float(np.mean(treated[self.follower] != treated[self.followee]))


@dataclass(frozen=True)
class ObservableWorld:
    """What an agent may see of the world: observable tables and sizes, no hidden state.

    ``graph`` is the world's own knowledge graph when it has one (``movielens-100k``:
    Freebase plus attributes); :func:`simrec.worlds.graph.item_graph` builds the attribute
    graph of any world.
    """

    name: str
    genre_names: tuple[str, ...]
    items: ItemFeatures
    users: UserFeatures
    graph: KnowledgeGraph | None = None
    social: SocialGraph | None = None

    @property
    def n_items(self) -> int:
        """Number of items M (all releases)."""
        return len(self.items.genre)

    @property
    def n_users(self) -> int:
        """Number of users N (all arrivals)."""
        return len(self.users.age)

    @property
    def n_genres(self) -> int:
        """Number of genres G."""
        return len(self.genre_names)


@dataclass(frozen=True)
class World:
    """A built world: observable and hidden tables of items and users.

    Attributes:
        name: World name (e.g. ``"synthetic"``).
        genre_names: Genre names, index = genre id.
        items: Observable items.
        item_truth: Hidden items.
        users: Observable users.
        user_truth: Hidden users.
        graph: Observable knowledge graph of the items, if the world has its own.
        social: Observable follow graph of the users (the social world), else ``None``.
    """

    name: str
    genre_names: tuple[str, ...]
    items: ItemFeatures
    item_truth: ItemTruth
    users: UserFeatures
    user_truth: UserTruth
    graph: KnowledgeGraph | None = None
    social: SocialGraph | None = None

    @property
    def observable(self) -> ObservableWorld:
        """The agent-facing view."""
        return ObservableWorld(
            self.name, self.genre_names, self.items, self.users, self.graph, self.social
        )

    @property
    def n_items(self) -> int:
        """Number of items M."""
        return self.observable.n_items

    @property
    def n_users(self) -> int:
        """Number of users N (all arrivals)."""
        return self.observable.n_users

    @property
    def dim(self) -> int:
        """Latent dimension d."""
        return int(self.item_truth.topic.shape[1])
