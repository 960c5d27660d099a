"""Market and social data: sources, ingest into the lake, audit, remediation, quality gate."""
