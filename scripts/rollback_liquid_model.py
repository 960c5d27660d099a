#!/usr/bin/env python
"""Roll the active model of one (symbol, horizon) back to the previously active version.

    scripts/rollback_liquid_model.py --symbol BTCUSDT --horizon 1h --reason "slippage" [--actor ana]

A thin wrapper around `quantgate registry rollback` (same settings: QG_HOME,
QG_DATABASE_URL, --config); prints the transition as JSON. Exit codes as the CLI's.
"""

from __future__ import annotations

import sys

from quantgate.cli.app import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--json" not in argv:
        argv.append("--json")
    config: list[str] = []
    if "--config" in argv:  # a root option: it goes before the sub-command
        at = argv.index("--config")
        config = argv[at : at + 2]
        del argv[at : at + 2]
    sys.argv = [sys.argv[0], *config, "registry", "rollback", *argv]
    main()
