"""binance-mcp: an MCP server for Binance Spot with an event-sourced audit log and a paper exchange.

The repository keeps its rooms at the top level (server.py, actors/, events/, exchange/, face/);
the distribution installs them under this one name: `binance_mcp.actors`, `binance_mcp.server`, …
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("binance-mcp")  # the one place it is written is pyproject.toml
except PackageNotFoundError:  # imported from a tree that was never installed (type checking)
    __version__ = "0+unknown"
