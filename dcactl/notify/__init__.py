"""Notifications and the heartbeat: what a run did, sent after the ledger commit.

- :mod:`~dcactl.notify.messages`: pure — a run's results (and missed periods) → messages;
- :mod:`~dcactl.notify.deliver`: apprise (lazily imported) and the healthchecks-style heartbeat,
  each delivery bounded by ``[notify] timeout``, never raising, never echoing a URL's token;
- :mod:`~dcactl.notify.hooks`: what ``run`` and ``buy`` call around a run.

A notification never changes a run's outcome or exit code and never delays an order.
"""
