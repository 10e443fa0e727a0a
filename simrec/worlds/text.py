r"""Item text for synthetic worlds.

Each genre owns a vocabulary of topic words, and every word *w* has a direction
:math:`o_w \in R^d` (an offset from its genre's centroid). An item first draws three distinct
words of its genre; the words enter its hidden topic (see :mod:`simrec.worlds.synthetic`),
and its title and description are written with them, plus one word of its secondary genre.
A sentence model that embeds the text therefore recovers the genre and the word-driven part
of the topic -- informative about :math:`z_i` but not equal to it (creator offsets and noise
are not in the text). Clickbait items get clickbait phrasing and high-quality items a quality
adjective, each with noise, so that appeal and quality leave a weak observable trace as they
do in real titles.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GENRES", "draw_words", "item_texts", "word_offsets"]

#: Genre name -> topic words. Order defines genre ids.
GENRES: dict[str, tuple[str, ...]] = {
    "science": (
        "quantum",
        "galaxy",
        "genome",
        "neutron",
        "climate",
        "fossil",
        "enzyme",
        "telescope",
        "particle",
        "evolution",
        "molecule",
        "volcano",
        "orbit",
        "bacteria",
        "magnet",
        "laboratory",
        "asteroid",
        "protein",
        "glacier",
        "laser",
    ),
    "cooking": (
        "sourdough",
        "risotto",
        "curry",
        "pastry",
        "barbecue",
        "noodles",
        "spices",
        "dumplings",
        "omelette",
        "chocolate",
        "salad",
        "ferment",
        "grill",
        "soup",
        "tacos",
        "brunch",
        "vegan",
        "butter",
        "sushi",
        "casserole",
    ),
    "travel": (
        "island",
        "backpacking",
        "mountains",
        "cruise",
        "desert",
        "hostel",
        "railway",
        "passport",
        "beach",
        "safari",
        "canyon",
        "village",
        "airport",
        "roadtrip",
        "lagoon",
        "fjord",
        "temple",
        "harbour",
        "trail",
        "festival",
    ),
    "sports": (
        "football",
        "marathon",
        "tennis",
        "basketball",
        "cycling",
        "boxing",
        "swimming",
        "cricket",
        "hockey",
        "olympics",
        "coach",
        "stadium",
        "league",
        "sprint",
        "climbing",
        "rugby",
        "golf",
        "surfing",
        "referee",
        "championship",
    ),
    "finance": (
        "stocks",
        "inflation",
        "mortgage",
        "budget",
        "pension",
        "crypto",
        "dividend",
        "savings",
        "taxes",
        "startup",
        "bonds",
        "banking",
        "investor",
        "market",
        "debt",
        "insurance",
        "portfolio",
        "economy",
        "salary",
        "venture",
    ),
    "music": (
        "guitar",
        "symphony",
        "jazz",
        "album",
        "concert",
        "piano",
        "vinyl",
        "rapper",
        "orchestra",
        "drummer",
        "melody",
        "opera",
        "festival",
        "songwriter",
        "techno",
        "choir",
        "violin",
        "playlist",
        "band",
        "blues",
    ),
    "history": (
        "empire",
        "medieval",
        "pharaoh",
        "revolution",
        "castle",
        "dynasty",
        "archaeology",
        "viking",
        "samurai",
        "renaissance",
        "war",
        "treaty",
        "ancient",
        "monarchy",
        "colonial",
        "rome",
        "battle",
        "manuscript",
        "crusade",
        "pyramid",
    ),
    "gaming": (
        "console",
        "speedrun",
        "esports",
        "quest",
        "multiplayer",
        "pixel",
        "dungeon",
        "controller",
        "strategy",
        "shooter",
        "roguelike",
        "arcade",
        "boss",
        "loot",
        "sandbox",
        "platformer",
        "mod",
        "tournament",
        "puzzle",
        "rpg",
    ),
    "health": (
        "sleep",
        "nutrition",
        "yoga",
        "cardio",
        "vitamin",
        "meditation",
        "therapy",
        "immune",
        "posture",
        "stress",
        "fasting",
        "running",
        "allergy",
        "hydration",
        "diabetes",
        "stretching",
        "wellbeing",
        "clinic",
        "mindfulness",
        "protein",
    ),
    "fashion": (
        "sneakers",
        "denim",
        "runway",
        "vintage",
        "jacket",
        "couture",
        "handbag",
        "tailoring",
        "silk",
        "streetwear",
        "designer",
        "wardrobe",
        "boots",
        "linen",
        "jewellery",
        "knitwear",
        "model",
        "trend",
        "hat",
        "fabric",
    ),
    "technology": (
        "smartphone",
        "robot",
        "algorithm",
        "chip",
        "cloud",
        "battery",
        "drone",
        "software",
        "laptop",
        "network",
        "encryption",
        "startup",
        "satellite",
        "database",
        "sensor",
        "browser",
        "processor",
        "automation",
        "gadget",
        "server",
    ),
    "film": (
        "director",
        "thriller",
        "documentary",
        "comedy",
        "actor",
        "screenplay",
        "horror",
        "animation",
        "cinema",
        "premiere",
        "sequel",
        "western",
        "noir",
        "blockbuster",
        "trailer",
        "studio",
        "romance",
        "drama",
        "festival",
        "camera",
    ),
}

_NOUNS = (
    "guide",
    "story",
    "secrets",
    "journey",
    "notes",
    "chronicle",
    "lessons",
    "world",
    "diary",
    "answer",
    "truth",
    "rise",
    "art",
    "science",
    "case",
)
_CLICKBAIT = (
    "You won't believe this",
    "Shocking:",
    "Top 10",
    "This one trick:",
    "Everyone is talking about",
    "Gone wrong:",
)
_QUALITY = (
    "an acclaimed",
    "an in-depth",
    "a carefully researched",
    "a definitive",
    "an award-winning",
)
_PLAIN = ("a short", "a quick", "a new", "a casual", "an everyday")


def word_offsets(n_genres: int, dim: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random unit offsets of every genre's words, one ``(n_words_g, d)`` array per genre."""
    names = list(GENRES)
    out = []
    for g in range(n_genres):
        o = rng.standard_normal((len(GENRES[names[g]]), dim))
        out.append(o / np.linalg.norm(o, axis=1, keepdims=True))
    return out


def draw_words(genre: np.ndarray, rng: np.random.Generator, n: int = 3) -> np.ndarray:
    """``n`` distinct word indices of each item's genre vocabulary, ``(M, n)``."""
    names = list(GENRES)
    sizes = np.array([len(GENRES[names[g]]) for g in range(int(genre.max()) + 1)])
    keys = rng.random((len(genre), int(sizes.max())))
    keys[np.arange(sizes.max())[None, :] >= sizes[genre][:, None]] = np.inf
    return np.argsort(keys, axis=1)[:, :n]


def item_texts(
    genre: np.ndarray,
    words: np.ndarray,
    secondary: np.ndarray,
    quality: np.ndarray,
    clickbait: np.ndarray,
    rng: np.random.Generator,
) -> tuple[list[str], list[str]]:
    """Titles and one-line descriptions written from the items' words.

    Args:
        genre: Primary genre ids, ``(M,)``.
        words: Word indices in the genre vocabulary, ``(M, 3)`` (from :func:`draw_words`).
        secondary: Secondary genre ids, ``(M,)``.
        quality: Hidden quality in [0, 1], ``(M,)``.
        clickbait: Whether each item is clickbait, ``(M,)``.
        rng: World stream.

    Returns:
        ``(titles, descriptions)``, two lists of M strings.
    """
    names = list(GENRES)
    titles, descriptions = [], []
    for i in range(len(genre)):
        g, g2 = int(genre[i]), int(secondary[i])
        vocab = GENRES[names[g]]
        w = words[i]
        w2 = GENRES[names[g2]][int(rng.integers(len(GENRES[names[g2]])))]
        noun = _NOUNS[int(rng.integers(len(_NOUNS)))]
        title = f"The {vocab[w[0]]} {noun}"
        if clickbait[i] and rng.random() < 0.8:
            title = f"{_CLICKBAIT[int(rng.integers(len(_CLICKBAIT)))]} {title.lower()}"
        adjectives = _QUALITY if rng.random() < quality[i] else _PLAIN
        adj = adjectives[int(rng.integers(len(adjectives)))]
        titles.append(title)
        descriptions.append(
            f"{adj.capitalize()} {names[g]} piece about {vocab[w[1]]} and {vocab[w[2]]}, "
            f"with a touch of {w2}."
        )
    return titles, descriptions
