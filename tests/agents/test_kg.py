"""Knowledge-graph agents: the TransE loss by hand, the graph, cold items, errors."""

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the cf extra: pip install 'simrec[cf]'")

import torch
from conftest import small_config

from simrec import Simulation, make_agent
from simrec.errors import ConfigError
from simrec.worlds.graph import attribute_graph, item_graph


def test_transe_loss_by_hand():
    from simrec_agents.kg.cke import transe_loss

    E = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    W = torch.tensor([[1.0, 0.0]])
    h, r, t = torch.tensor([0]), torch.tensor([0]), torch.tensor([1])
    # e_h + w_r = (1, 0) = e_1 exactly: positive distance 0; corrupted tail e_2: 1 + 4 = 5.
    assert float(transe_loss(E, W, h, r, t, torch.tensor([2]), margin=1.0)) == 0.0
    # Swapped: positive 5, negative 0 -> max(0, 1 + 5 - 0) = 6.
    assert float(transe_loss(E, W, h, r, torch.tensor([2]), t, margin=1.0)) == 6.0


def test_attribute_graph_links_items_to_their_attributes():
    w = Simulation(small_config()).build_world(0)
    g = item_graph(w.observable)
    M = w.n_items
    assert len(g) == 3 * M and g.relation_names == ("has_genre", "by_creator", "released_in")
    genre_edges = g.relation == 0
    assert np.array_equal(g.head[genre_edges], np.arange(M))
    assert np.array_equal(g.tail[genre_edges] - M, w.items.genre)
    # Items sharing a creator share the creator entity.
    creator = g.tail[g.relation == 1]
    same = w.items.creator[:, None] == w.items.creator[None, :]
    assert np.array_equal(same, creator[:, None] == creator[None, :])
    assert g.n_entities == attribute_graph(w.items, w.observable.n_genres).n_entities


def test_kg_serves_new_items_from_the_graph():
    """A released item has a graph embedding at once: kg shows new items, mf holds them back."""
    cfg = small_config(days=8, n_users=300, n_items=400, retrain_every_days=1.0)
    cfg = cfg.__class__(
        world=cfg.world.__class__(
            items=cfg.world.items.__class__(
                n_items=400, initial_fraction=0.5, release_over_days=6.0
            ),
            users=cfg.world.users,
        ),
        simulation=cfg.simulation,
    )
    kg = Simulation(cfg).run("kg", seed=0)
    assert kg.totals["cold_item_clicks"] > 0
    assert kg.cost.extra["triples"] == 3 * 400 and kg.cost.params > kg.cost.extra["entities"]


def test_bad_kg_parameters():
    with pytest.raises(ConfigError, match="margin: expected a positive number, got 0"):
        make_agent("kg", margin=0)
    with pytest.raises(ConfigError, match="kg_batch: expected a positive integer"):
        make_agent("kg", kg_batch=-1)
