"""Coin aggregation (paper §6.1): data, model, training loop, exact conditional probabilities."""
