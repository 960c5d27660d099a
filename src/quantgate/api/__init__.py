"""HTTP API (layer 13): FastAPI routes over the inference runtime and the registry."""

from quantgate.api.app import create_app

__all__ = ["create_app"]
