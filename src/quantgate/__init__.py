"""quantgate: carry a trading model from raw data to live capital through measurable gates."""

__version__ = "0.1.0"
