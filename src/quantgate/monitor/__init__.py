"""Monitoring (layer 11): Prometheus metrics of the services."""
