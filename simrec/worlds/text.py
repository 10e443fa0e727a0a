r"""Item text for synthetic worlds.

Each genre owns a vocabulary of topic words. Every word *w* gets a direction
:math:`\omega_w` in the latent space near its genre's centroid, and an item draws the words of
its title and description with probability :math:`\propto \exp(\beta \langle z_i,
\omega_w\rangle)` among its genre's words (plus a few from its secondary genre). A sentence
model that embeds the text therefore recovers the genre and part of the within-genre topic --
informative about :math:`z_i` but not equal to it. Clickbait items get clickbait phrasing and
high-quality items a quality adjective, each with noise, so that appeal and quality leave a
weak observable trace as they do in real titles.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GENRES", "item_texts", "word_directions"]

#: Genre name -> topic words. Order defines genre ids.
GENRES: dict[str, tuple[str, ...]] = {
    "science": ("quantum", "galaxy", "genome", "neutron", "climate", "fossil", "enzyme",
                "telescope", "particle", "evolution", "molecule", "volcano", "orbit",
                "bacteria", "magnet", "laboratory", "asteroid", "protein", "glacier", "laser"),
    "cooking": ("sourdough", "risotto", "curry", "pastry", "barbecue", "noodles", "spices",
                "dumplings", "omelette", "chocolate", "salad", "ferment", "grill", "soup",
                "tacos", "brunch", "vegan", "butter", "sushi", "casserole"),
    "travel": ("island", "backpacking", "mountains", "cruise", "desert", "hostel", "railway",
               "passport", "beach", "safari", "canyon", "village", "airport", "roadtrip",
               "lagoon", "fjord", "temple", "harbour", "trail", "festival"),
    "sports": ("football", "marathon", "tennis", "basketball", "cycling", "boxing", "swimming",
               "cricket", "hockey", "olympics", "coach", "stadium", "league", "sprint",
               "climbing", "rugby", "golf", "surfing", "referee", "championship"),
    "finance": ("stocks", "inflation", "mortgage", "budget", "pension", "crypto", "dividend",
                "savings", "taxes", "startup", "bonds", "banking", "investor", "market",
                "debt", "insurance", "portfolio", "economy", "salary", "venture"),
    "music": ("guitar", "symphony", "jazz", "album", "concert", "piano", "vinyl", "rapper",
              "orchestra", "drummer", "melody", "opera", "festival", "songwriter", "techno",
              "choir", "violin", "playlist", "band", "blues"),
    "history": ("empire", "medieval", "pharaoh", "revolution", "castle", "dynasty",
                "archaeology", "viking", "samurai", "renaissance", "war", "treaty", "ancient",
                "monarchy", "colonial", "rome", "battle", "manuscript", "crusade", "pyramid"),
    "gaming": ("console", "speedrun", "esports", "quest", "multiplayer", "pixel", "dungeon",
               "controller", "strategy", "shooter", "roguelike", "arcade", "boss", "loot",
               "sandbox", "platformer", "mod", "tournament", "puzzle", "rpg"),
    "health": ("sleep", "nutrition", "yoga", "cardio", "vitamin", "meditation", "therapy",
               "immune", "posture", "stress", "fasting", "running", "allergy", "hydration",
               "diabetes", "stretching", "wellbeing", "clinic", "mindfulness", "protein"),
    "fashion": ("sneakers", "denim", "runway", "vintage", "jacket", "couture", "handbag",
                "tailoring", "silk", "streetwear", "designer", "wardrobe", "boots", "linen",
                "jewellery", "knitwear", "model", "trend", "hat", "fabric"),
    "technology": ("smartphone", "robot", "algorithm", "chip", "cloud", "battery", "drone",
                   "software", "laptop", "network", "encryption", "startup", "satellite",
                   "database", "sensor", "browser", "processor", "automation", "gadget",
                   "server"),
    "film": ("director", "thriller", "documentary", "comedy", "actor", "screenplay", "horror",
             "animation", "cinema", "premiere", "sequel", "western", "noir", "blockbuster",
             "trailer", "studio", "romance", "drama", "festival", "camera"),
}

_NOUNS = ("guide", "story", "secrets", "journey", "notes", "chronicle", "lessons", "world",
          "diary", "answer", "truth", "rise", "art", "science", "case")
_CLICKBAIT = ("You won't believe this", "Shocking:", "Top 10", "This one trick:",
              "Everyone is talking about", "Gone wrong:")
_QUALITY = ("an acclaimed", "an in-depth", "a carefully researched", "a definitive",
            "an award-winning")
_PLAIN = ("a short", "a quick", "a new", "a casual", "an everyday")


def word_directions(
    centroids: np.ndarray, rng: np.random.Generator, spread: float
) -> list[np.ndarray]:
    """Unit directions of every genre's words, near the genre centroid.

    Args:
        centroids: Genre centroids, shape ``(G, d)``, unit rows.
        rng: World stream.
        spread: Per-dimension std (times 1/sqrt(d)) of word directions around the centroid.

    Returns:
        One ``(n_words_g, d)`` array per genre.
    """
    names = list(GENRES)
    d = centroids.shape[1]
    out = []
    for g, c in enumerate(centroids):
        n = len(GENRES[names[g]])
        w = c[None, :] + spread * rng.standard_normal((n, d)) / np.sqrt(d)
        out.append(w / np.linalg.norm(w, axis=1, keepdims=True))
    return out


def item_texts(
    topics: np.ndarray,
    genre: np.ndarray,
    secondary: np.ndarray,
    quality: np.ndarray,
    clickbait: np.ndarray,
    words: list[np.ndarray],
    rng: np.random.Generator,
    sharpness: float = 6.0,
) -> tuple[list[str], list[str]]:
    """Titles and one-line descriptions drawn from the genre vocabularies.

    Args:
        topics: Hidden item topics, ``(M, d)``.
        genre: Primary genre ids, ``(M,)``.
        secondary: Secondary genre ids, ``(M,)``.
        quality: Hidden quality in [0, 1], ``(M,)``.
        clickbait: Whether each item is clickbait, ``(M,)``.
        words: Word directions per genre from :func:`word_directions`.
        rng: World stream.
        sharpness: beta, how strongly the topic steers word choice.

    Returns:
        ``(titles, descriptions)``, two lists of M strings.
    """
    names = list(GENRES)
    titles, descriptions = [], []
    for i in range(len(genre)):
        g, g2 = int(genre[i]), int(secondary[i])
        vocab = GENRES[names[g]]
        logits = sharpness * (words[g] @ topics[i])
        p = np.exp(logits - logits.max())
        w = rng.choice(len(vocab), size=3, replace=False, p=p / p.sum())
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
