"""Collaborative-filtering agents that learn from their own logs.

``mf``, ``ncf``, ``item-knn`` and ``als``; shared pieces live in
:mod:`simrec_agents.cf.base`.
"""
