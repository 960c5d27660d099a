"""Venue adapters, one package per venue (`sim`, `ccxt`, `alpaca`): data and execution."""
