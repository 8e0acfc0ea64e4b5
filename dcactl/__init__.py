"""dcactl: recurring buys on Hyperliquid spot."""
__version__ = "0.1.0"
