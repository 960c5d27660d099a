"""`quantgate serve`: the prediction, registry and monitoring API (FastAPI on uvicorn).

Every configured model is loaded and verified before the port opens; a missing,
altered or contract-mismatched model stops start-up with exit code 2 and a
message naming each problem.
"""

from __future__ import annotations

import typer

from quantgate.cli.context import console, get_context
from quantgate.cli.options import EMBEDDER_HELP


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port"),
    symbols: str | None = typer.Option(
        None, help="comma-separated symbols to serve (default: [serving] symbols, else all active)"
    ),
    embedder: str | None = typer.Option(None, help=f"{EMBEDDER_HELP}; the feature store's"),
    workers_log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level"),
) -> None:
    """Serve predictions for the active models; follow registry moves without a restart."""
    import uvicorn

    from quantgate.api import create_app
    from quantgate.api.services import ApiServices
    from quantgate.cli.features import features_config
    from quantgate.features.contract import feature_contract
    from quantgate.inference import ServingConfig, ServingRuntime
    from quantgate.monitor.metrics import ServiceMetrics
    from quantgate.registry import Registry

    cli = get_context(ctx)
    settings = cli.settings
    values = dict(settings.serving)
    if symbols:
        values["symbols"] = [s.strip() for s in symbols.split(",") if s.strip()]
    config = ServingConfig.parse(values, where="serving")
    assert isinstance(config, ServingConfig)
    registry = Registry.from_settings(cli.migrated_engine(), settings)
    contract = feature_contract(features_config(cli, embedder=embedder))
    runtime = ServingRuntime.open(registry, cli.lake, settings.resolved_home, config, contract)
    loaded = runtime.active.loaded_keys()
    console.print(
        f"[green]loaded {len(loaded)} models[/green] for "
        f"{', '.join(runtime.features.symbols)}; listening on http://{host}:{port}"
    )
    app = create_app(ApiServices(settings, registry, runtime, ServiceMetrics()))
    uvicorn.run(app, host=host, port=port, log_level=workers_log_level, access_log=False)
