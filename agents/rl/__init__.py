"""Reinforcement-learning agents: SB3 policies, SlateQ, REINFORCE with top-K correction."""
