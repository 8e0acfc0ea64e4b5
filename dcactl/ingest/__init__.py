"""Fills from outside a run: ``sync`` from the exchange, ``legacy`` import of the earlier bot's history."""
