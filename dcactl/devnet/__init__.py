"""A local Hyperliquid-compatible spot exchange (aiohttp.web) for tests, demos and benchmarks.

It imports nothing from dcactl outside this package: its own rounding, validation, matching and
signature verification, so a client bug can never be mirrored by the exchange that tests it.
Entry points: `server.serve` / `server.create_app`, and `control.DevnetThread`,
`control.DevnetProcess`, `control.DevnetAdmin` for tests and scripts.
"""
