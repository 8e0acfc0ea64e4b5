"""Which exchange a config means: the named networks, their URLs, and one spelling for each.

The ledger's book, the account lock, the default ledger file and every cloid hang on the network id,
so one exchange must have one id however it is written: ``devnet``, ``http://127.0.0.1:3001``,
``http://localhost:3001/`` and ``HTTP://127.0.0.1:3001`` are all ``devnet``; ``mainnet`` and
``https://api.hyperliquid.xyz`` are both ``mainnet``. Pure (no I/O).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"
DEVNET_API_URL = "http://127.0.0.1:3001"
"""``dcactl devnet serve``'s default address (the SDK's ``LOCAL_API_URL``)."""
NETWORK_URLS: dict[str, str] = {
    "mainnet": MAINNET_API_URL, "testnet": TESTNET_API_URL, "devnet": DEVNET_API_URL,
}
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def canonical_url(url: str) -> str:
    """``url`` in one spelling: scheme and host lower-case, ``localhost`` as ``127.0.0.1``, the
    scheme's default port dropped, no trailing slash, no query or fragment."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if host in LOOPBACK_NAMES:
        host = "127.0.0.1"
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


def canonical_network(network: str) -> str:
    """The network id of ``network`` (a name or an API URL): the name when the URL is a named
    network's, else the URL in :func:`canonical_url` spelling."""
    if network in NETWORK_URLS:
        return network
    url = canonical_url(network)
    for name, known in NETWORK_URLS.items():
        if url == canonical_url(known):
            return name
    return url


def network_url(network_id: str) -> str:
    """The API base URL of a network id (see :func:`canonical_network`)."""
    return NETWORK_URLS.get(network_id, network_id)
