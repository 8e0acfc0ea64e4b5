"""A run: gather the snapshot (``plan``), decide amounts and orders, execute, reconcile by cloid."""
