"""Read-only views of the ledger and the account: status, stats and lots, markets, doctor."""
