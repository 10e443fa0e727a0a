"""Language-model agents on a real offline sentence model.

``lm-content`` uses it as the representation learner of users and items, ``lm-cf`` as the
embedding layer of collaborative filtering. The encoders (MiniLM from a PyPI package, or
TF-IDF + SVD) live in :mod:`simrec_agents.lm.encoder`.
"""
