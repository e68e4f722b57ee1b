"""The Binance protocol: signing, exchange rules and the paper exchange. No actors inside."""
