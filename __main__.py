"""`python -m binance_mcp`: the same command line as `binance-mcp`."""

import sys

from binance_mcp.server import main

sys.exit(main())
