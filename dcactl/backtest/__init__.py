"""``dcactl backtest``: the portfolio's own rules replayed over past prices (PRODUCT.md "Backtest").

- :mod:`~dcactl.backtest.prices`: price series per asset, from the candle cache or a ``--prices`` CSV
  (validated like the config: every problem with file, row and column);
- :mod:`~dcactl.backtest.variants`: the strategies — the file as it is, the baselines ``plain`` and
  ``lump-sum``, and one variant per ``--set`` value (validated by the config checker);
- :mod:`~dcactl.backtest.engine`: the replay. A tick is a cron run at the start of each candle; every
  decision is made by the code ``run`` uses (the due check of :mod:`dcactl.schedule.periods`, the
  strategy's :func:`~dcactl.strategy.decide`, buy-only rebalancing, the caps of
  :mod:`dcactl.run.sizing`), reading only candles completed before the tick; fills follow the
  contract's formula. Pure: plain values in, figures out. It reads and keeps each asset's prices and
  state through :mod:`~dcactl.backtest.tracks`, fills by :mod:`~dcactl.backtest.fills`, replays an
  asset whose buys depend on nothing else over all its ticks at once in :mod:`~dcactl.backtest.lanes`,
  and turns the buys into figures in :mod:`~dcactl.backtest.figures`;
- :mod:`~dcactl.backtest.results`: what it reports (:class:`~dcactl.backtest.results.Costs`, each
  strategy's figures, the ``--json`` document).
"""
