"""Where buys happen: the Hyperliquid adapter (real orders over HTTP) and the paper venue (simulated).

- :mod:`dcactl.venues.base` — venue-neutral value types (``OrderRequest``, ``OrderOutcome``,
  ``Book``, ``Balance``, ``OrderStatus``) and :class:`~dcactl.venues.base.OrderOutcomeUnknown`.
- :mod:`dcactl.venues.hyperliquid` — ``HyperliquidClient``, an ``httpx.AsyncClient`` adapter; the
  only module that knows Hyperliquid's wire formats (payload shapes in ``hl_types``, order wire and
  signing in ``hl_signing``).
- :mod:`dcactl.venues.paper` — fills at real prices; never sees a key.

Nothing is imported here, so ``import dcactl.venues.paper`` does not pay for httpx or eth_account.
"""
