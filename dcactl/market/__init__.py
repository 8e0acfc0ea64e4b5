"""Market data: resolve a symbol to one spot pair, spot metadata and books, candles, CoinGecko."""
