"""`quantgate demo`: every phase built so far, end to end, on the synthetic market.

The demo uses a smaller window than the full 2018-now history (default: from
2026-01-01) and a lower post rate, so the whole run — embedding every post and
comment with MiniLM on 2 cores included — stays within minutes; embeddings are
cached, so a second run only embeds new text. `--start 2018-01-01` runs the
full history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from quantgate.cli.context import CliContext, console, get_context, progress_bar
from quantgate.cli.options import parse_utc
from quantgate.data.audit import AuditRequest, run_audit
from quantgate.data.catalog import Catalog
from quantgate.data.quality import run_quality
from quantgate.data.remediate import Remediator
from quantgate.storage import upgrade

app = typer.Typer(help="Run every phase built so far on the built-in synthetic market.")

DEMO_START = "2026-01-01"
DEMO_GAP_FRACTION = 0.002
DEMO_POSTS_PER_DAY = 0.3


class DemoRun:
    def __init__(self, cli: CliContext, start: datetime, seed: int) -> None:
        self.cli = cli
        self.start = start
        self.seed = seed
        self.end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.verdicts: list[tuple[str, bool, str]] = []
        self.training_run: str | None = None
        self.oos_predictions: str | None = None

    def phase(self, name: str, action: Callable[[], tuple[bool, str]]) -> None:
        console.rule(f"[bold]{name}")
        passed, detail = action()
        mark = "[green]✓[/green]" if passed else "[red]✗[/red]"
        console.print(f"{mark} {name}: {detail}")
        self.verdicts.append((name, passed, detail))

    def migrate(self) -> tuple[bool, str]:
        return True, f"database at revision {upgrade(self.cli.engine)}"

    def generate(self) -> tuple[bool, str]:
        from quantgate.adapters.sim import SyntheticMarketConfig
        from quantgate.data.generate import generate_synthetic

        config = SyntheticMarketConfig(
            seed=self.seed,
            symbols=self.cli.settings.universe,
            start=self.start,
            end=self.end,
            gap_fraction=DEMO_GAP_FRACTION,
            posts_per_day_base=DEMO_POSTS_PER_DAY,
        )
        with progress_bar() as bar:
            task = bar.add_task("generating", total=len(config.symbols))

            def advance(symbol: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"generating {symbol}")

            result = generate_synthetic(self.cli.lake, self.cli.engine, config, progress=advance)
        bars = sum(r.get("bars", 0) for r in result.rows.values())
        oracle = ", ".join(f"{h} {v:.3f}" for h, v in result.oracle_ic.items() if v is not None)
        resumed = (
            f", resumed {len(result.resumed_symbols)} symbols" if result.resumed_symbols else ""
        )
        return True, (
            f"{bars:,} bars written with {result.planted_bar_gaps} planted gaps{resumed}; "
            f"oracle IC {oracle}"
        )

    def _request(self) -> AuditRequest:
        return AuditRequest(self.start, self.end, self.cli.settings.universe)

    def audit(self, expect_complete: bool) -> Callable[[], tuple[bool, str]]:
        def action() -> tuple[bool, str]:
            catalog = Catalog(self.cli.engine)
            report = run_audit(self.cli.lake, catalog, self._request())
            catalog.record_audit(self.cli.run_id, report)
            s = report["summary"]
            detail = (
                f"{s['present_bars']:,}/{s['expected_bars']:,} bars, {s['missing_bars']} missing "
                f"in {s['gap_count']} gaps, {s['missing_social_days']} social days missing, "
                f"comment ratio {s['comment_ratio']:.2f}"
            )
            if expect_complete:
                return bool(report["passed"]), detail
            # Before remediation the planted gaps must be found; a resumed demo finds them
            # already backfilled, which is just as good.
            if s["gap_count"] == 0 and report["passed"]:
                return True, detail + " (already remediated by an earlier run)"
            return s["gap_count"] > 0, detail

        return action

    def remediate(self) -> tuple[bool, str]:
        catalog = Catalog(self.cli.engine)
        with progress_bar() as bar:
            task = bar.add_task("backfilling gaps", total=None)
            report: dict[str, Any] = Remediator(self.cli.lake, catalog).run(
                self._request(),
                max_rounds=3,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        filled = sum(r["filled"] for r in report["rounds"])
        rounds = len(report["rounds"])
        return report["passed"], f"{rounds} round(s), {filled:,} missing bars and days filled"

    def quality(self) -> tuple[bool, str]:
        report = run_quality(self.cli.lake, self.cli.settings.universe, datetime.now(UTC))
        Catalog(self.cli.engine).record_quality(self.cli.run_id, report)
        s = report["summary"]
        return report["passed"], f"{s['rows_checked']:,} bars checked, {s['bad_rows']} bad"

    def _feature_builder(self) -> Any:
        from quantgate.cli.features import features_config, make_builder

        return make_builder(self.cli, features_config(self.cli))

    def features_build(self) -> tuple[bool, str]:
        from quantgate.features.build import BUILD_JOB
        from quantgate.features.contract import MIN_WIDTH
        from quantgate.storage.checkpoints import Checkpoints

        builder = self._feature_builder()
        with progress_bar() as bar:
            tasks: dict[str, Any] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total or None)
                bar.update(tasks[stage], completed=done, total=total or None)

            report = builder.build(
                None, checkpoints=Checkpoints(self.cli.engine, BUILD_JOB), progress=advance
            )
        width = int(report["width"])
        return width >= MIN_WIDTH, (
            f"{report['mode']}: {report.get('rows_computed', 0):,} rows, width {width}, "
            f"embedder {report['embedder']['id']}"
        )

    def features_validate_asof(self) -> tuple[bool, str]:
        from quantgate.features.validate import validate_asof

        report = validate_asof(self._feature_builder(), None)
        return bool(report["passed"]), (
            f"future_leakage_count {report.get('future_leakage_count')}, "
            f"snapshot_time_consistency {report.get('snapshot_time_consistency')}"
        )

    def features_lookahead(self) -> tuple[bool, str]:
        from quantgate.features.validate import lookahead

        report = lookahead(self._feature_builder(), None)
        return bool(report["passed"]), (
            f"{report.get('rows_compared', 0)} rows at {len(report.get('cut_points', []))} cut "
            f"points, {report.get('biased_feature_count', 0)} biased features"
        )

    def ml_train_eval(self) -> tuple[bool, str]:
        from quantgate.cli.ml import environment
        from quantgate.core.enums import Horizon
        from quantgate.ml.training.config import TrainingConfig
        from quantgate.ml.training.pipeline import run_train, summary_line

        # Small on purpose: 3 purged folds, 80 rounds, 15k training rows per fold.
        config = TrainingConfig(
            estimator="lgbm",
            horizons=tuple(Horizon),
            n_folds=3,
            initial_train_groups=2,
            max_train_rows=15_000,
            params={"n_estimators": 80},
        )
        with console.status("walk-forward training, evaluation and ONNX export"):
            payload = run_train(environment(self.cli, None, None), config)
        for line in summary_line(payload):
            console.print(f"  {line}")
        artifact = payload.get("artifact", {}).get("path", "")
        self.training_run = str(payload["run_id"])
        self.oos_predictions = payload.get("artifact", {}).get("oos_predictions")
        return bool(payload["passed"]), f"OOS report above; ONNX artifact {artifact}"

    def registry_promote(self) -> tuple[bool, str]:
        from quantgate.cli.registry import default_actor, open_registry, print_transition
        from quantgate.registry.runs import register_from_run

        if self.training_run is None:
            return False, "no training run to register"
        registry = open_registry(self.cli)
        actor = default_actor()
        results, _ = register_from_run(
            registry, self.cli.engine, self.training_run, actor=actor, reason="demo"
        )
        errors = [r for r in results if "error" in r]
        forced = 0
        for item in results:
            if "error" in item:
                continue
            # The rules are checked and printed first; only a refusal is then forced, with
            # the reason on record: a synthetic market cannot meet live-money rules.
            transition = registry.promote(item["symbol"], item["horizon"], actor=actor)
            print_transition(transition)
            if transition.refused:
                transition = registry.promote(
                    item["symbol"],
                    item["horizon"],
                    actor=actor,
                    force=True,
                    reason="demo on the synthetic market: live-money rules cannot be met there",
                )
                print_transition(transition, with_checks=False)
                forced += 1
        return not errors, (
            f"{len(results) - len(errors)} candidates registered from {self.training_run}, "
            f"{forced} promoted with --force (rules refused), {len(errors)} failed"
        )

    def serve_sample(self) -> tuple[bool, str]:
        import json
        import socket
        import threading
        import time

        import httpx
        import uvicorn

        from quantgate.api import create_app
        from quantgate.api.services import ApiServices
        from quantgate.cli.features import features_config
        from quantgate.cli.registry import open_registry
        from quantgate.features.contract import feature_contract
        from quantgate.inference import ServingConfig, ServingRuntime
        from quantgate.monitor.metrics import ServiceMetrics

        settings = self.cli.settings
        contract = feature_contract(features_config(self.cli))
        registry = open_registry(self.cli)
        runtime = ServingRuntime.open(
            registry, self.cli.lake, settings.resolved_home, ServingConfig(), contract
        )
        app = create_app(ApiServices(settings, registry, runtime, ServiceMetrics()))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    return False, "the API server did not start"
                time.sleep(0.05)
            symbol = runtime.features.symbols[0]
            url = f"http://127.0.0.1:{port}/api/v2/predict/liquid?symbol={symbol}"
            response = httpx.get(url, timeout=10)
            console.print(f"  GET {url}")
            console.print_json(json.dumps(response.json()["predictions"][0]))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        answer = response.json()["predictions"][0]
        return response.status_code == 200 and len(answer["expected_return"]) == 4, (
            f"served {len(runtime.active.loaded_keys())} models over HTTP; {symbol} 1d expected "
            f"return {answer['expected_return_legacy']:+.5f} (legacy field = 1d)"
        )

    def backtest(self, strategy: str) -> Callable[[], tuple[bool, str]]:
        def action() -> tuple[bool, str]:
            from pathlib import Path

            import polars as pl

            from quantgate.cli.backtest import backtest_config, denials_text
            from quantgate.engine.backtest import run_backtest
            from quantgate.gates.profitability import (
                ProfitabilityThresholds,
                evaluate_profitability,
            )

            start = self.start
            predictions = None
            if strategy == "ml_signal":
                if self.oos_predictions is None:
                    return False, "no out-of-sample predictions from the training phase"
                # Only where every prediction is out of sample: the walk-forward test span.
                predictions = Path(self.oos_predictions)
                first = pl.read_parquet(predictions, columns=["asof"])["asof"].min()
                if not isinstance(first, datetime):
                    return False, f"{predictions} holds no predictions"
                start = first
            config = backtest_config(
                self.cli,
                strategy=strategy,
                symbols=None,
                start=start.isoformat(),
                end=self.end.isoformat(),
                params=None,
                param=[],
                capital=None,
                allocator=None,
                source=None,
                config_file=None,
                predictions=predictions,
            )
            with progress_bar() as bar:
                task = bar.add_task(f"backtest {strategy}", total=None)
                result = run_backtest(
                    config,
                    self.cli.settings.resolved_home,
                    lake=self.cli.lake,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                    checkpoint_every=None,
                )
            gate = evaluate_profitability(result.run_dir, ProfitabilityThresholds())
            f = gate.figures
            verdict = "PASSED" if gate.passed else "NOT PASSED: " + "; ".join(gate.reasons)
            # The phase checks the backtest ran end to end; the gate's verdict is reported as is.
            return result.completed, (
                f"net return {f['net_return']:.2%}, Sharpe {f['sharpe']:.2f}, max drawdown "
                f"{f['max_drawdown']:.2%}{denials_text(result.metrics.get('engine'))}; "
                f"profitability gate {verdict}"
            )

        return action

    def summary_table(self) -> Table:
        table = Table(title="quantgate demo")
        table.add_column("phase")
        table.add_column("verdict")
        table.add_column("detail")
        for name, passed, detail in self.verdicts:
            table.add_row(name, "[green]pass" if passed else "[red]fail", detail)
        return table


@app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    start: str = typer.Option(DEMO_START, help="first day of the synthetic market"),
    seed: int = typer.Option(7, help="seed of the synthetic market"),
) -> None:
    cli = get_context(ctx)
    console.rule("[bold]quantgate demo")
    console.print(f"home: {cli.settings.resolved_home}")
    run = DemoRun(cli, parse_utc(start, "--start"), seed)
    with cli.recorded("demo") as detail:
        run.phase("database", run.migrate)
        run.phase("data: generate synthetic market", run.generate)
        run.phase("data: audit (finds the planted gaps)", run.audit(expect_complete=False))
        run.phase("data: remediate", run.remediate)
        run.phase("data: re-audit", run.audit(expect_complete=True))
        run.phase("data: quality gate", run.quality)
        run.phase("features: build", run.features_build)
        run.phase("features: validate-asof", run.features_validate_asof)
        run.phase("features: lookahead", run.features_lookahead)
        run.phase("ml: walk-forward train, evaluate, export", run.ml_train_eval)
        run.phase("registry: register candidates, promote (rule report)", run.registry_promote)
        run.phase("serve: start the API, one prediction over HTTP", run.serve_sample)
        run.phase("backtest: momentum + profitability gate", run.backtest("momentum"))
        run.phase("backtest: mean_reversion + profitability gate", run.backtest("mean_reversion"))
        run.phase(
            "backtest: ml_signal on walk-forward OOS predictions + profitability gate",
            run.backtest("ml_signal"),
        )
        detail["verdicts"] = [{"phase": n, "passed": p, "detail": d} for n, p, d in run.verdicts]
    console.print(run.summary_table())
    if not all(passed for _, passed, _ in run.verdicts):
        raise typer.Exit(1)
