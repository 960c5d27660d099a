"""`quantgate risk`: what the risk gate of a trading scope holds, and the switches only a
person may turn: reset the daily loss latch, re-enable a strategy the gate disabled, the
kill switch. Every change names who and why, is stored with the gate's own events and
recorded in `command_runs`.

A change is refused when it would change nothing (nothing latched, a strategy not
disabled, a kill switch not engaged): a typo in `--scope` or a name must not pass for a
reset. Only engaging the kill switch works on a scope the gate has never seen, so that a
person can stop a scope before its first order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy import Engine, select, union

from quantgate.cli.context import CliContext, console, emit_json, get_context
from quantgate.core.clock import WallClock
from quantgate.core.errors import ConfigurationError
from quantgate.risk.config import RiskLimits
from quantgate.risk.gate import RiskGate
from quantgate.risk.state import GATE_ACTOR, RiskEvent, RiskStatus
from quantgate.storage.models.trading import RiskGateDecisionRow, RiskStateEventRow, RiskStateRow

app = typer.Typer(
    help="Risk gate state of a trading scope, and the switches only a person may turn.",
    no_args_is_help=True,
)

SCOPE_HELP = "the trading scope, e.g. paper-main or live-main"
ACTOR_HELP = "your name: who turns the switch (recorded)"
REASON_HELP = "why (recorded)"
RECENT_EVENTS = 10


# One declaration per option, shared by every command (typer only reads them).
_SCOPE = typer.Option(..., "--scope", help=SCOPE_HELP)
_ACTOR = typer.Option(..., "--actor", help=ACTOR_HELP)
_REASON = typer.Option(..., "--reason", help=REASON_HELP)
_JSON = typer.Option(False, "--json", help="print JSON")


@app.command("status")
def status_command(ctx: typer.Context, scope: str = _SCOPE, as_json: bool = _JSON) -> None:
    """The switches, the disabled strategies, the open reservations and recent events."""
    _report(_gate(get_context(ctx), scope, known=True), as_json)


@app.command("reset-daily-loss")
def reset_daily_loss_command(
    ctx: typer.Context,
    scope: str = _SCOPE,
    actor: str = _ACTOR,
    reason: str = _REASON,
    as_json: bool = _JSON,
) -> None:
    """Clear the daily loss latch; the day is re-anchored at the next equity seen."""
    cli, gate = _person_at_gate(ctx, scope, actor, reason)
    if not gate.status().daily_loss_latched:
        raise ConfigurationError(
            f"the daily loss latch of scope {scope!r} is not engaged",
            field="--scope",
            fix="check `quantgate risk status --scope ...`; there is nothing to reset",
        )
    who = {"actor": actor, "reason": reason}
    _change(
        cli,
        gate,
        "reset-daily-loss",
        who,
        as_json,
        lambda: gate.reset_daily_loss(actor=actor, reason=reason),
    )


@app.command("enable-strategy")
def enable_strategy_command(
    ctx: typer.Context,
    strategy: str = typer.Argument(..., help="the strategy the gate disabled"),
    scope: str = _SCOPE,
    actor: str = _ACTOR,
    reason: str = _REASON,
    as_json: bool = _JSON,
) -> None:
    """Re-enable a strategy the repeated-execution throttle (or a person) disabled."""
    cli, gate = _person_at_gate(ctx, scope, actor, reason)
    disabled = gate.status().disabled_strategies
    if strategy not in disabled:
        raise ConfigurationError(
            f"strategy {strategy!r} is not disabled in scope {scope!r}",
            field="STRATEGY",
            fix="give one of: " + (", ".join(sorted(disabled)) or "(none is disabled)"),
        )
    who = {"strategy": strategy, "actor": actor, "reason": reason}
    _change(
        cli,
        gate,
        "enable-strategy",
        who,
        as_json,
        lambda: gate.enable_strategy(strategy, actor=actor, reason=reason),
    )


@app.command("disable-strategy")
def disable_strategy_command(
    ctx: typer.Context,
    strategy: str = typer.Argument(..., help="the strategy to stop"),
    scope: str = _SCOPE,
    actor: str = _ACTOR,
    reason: str = _REASON,
    as_json: bool = _JSON,
) -> None:
    """Deny every order of a strategy until a person re-enables it."""
    cli, gate = _person_at_gate(ctx, scope, actor, reason)
    who = {"strategy": strategy, "actor": actor, "reason": reason}
    _change(
        cli,
        gate,
        "disable-strategy",
        who,
        as_json,
        lambda: gate.disable_strategy(strategy, actor=actor, reason=reason),
    )


@app.command("kill-switch")
def kill_switch_command(
    ctx: typer.Context,
    action: str = typer.Argument(..., help="engage | release"),
    scope: str = _SCOPE,
    actor: str = _ACTOR,
    reason: str = _REASON,
    as_json: bool = _JSON,
) -> None:
    """Engage (every order of the scope denied) or release the kill switch."""
    if action not in ("engage", "release"):
        raise ConfigurationError(
            f"unknown action {action!r}", field="ACTION", fix="give engage or release"
        )
    engage = action == "engage"
    cli, gate = _person_at_gate(ctx, scope, actor, reason, known=not engage)
    if not engage and not gate.status().kill_switch:
        raise ConfigurationError(
            f"the kill switch of scope {scope!r} is not engaged",
            field="--scope",
            fix="check `quantgate risk status --scope ...`; there is nothing to release",
        )
    who = {"action": action, "actor": actor, "reason": reason}
    turn = gate.engage_kill_switch if engage else gate.release_kill_switch
    _change(
        cli, gate, f"kill-switch {action}", who, as_json, lambda: turn(actor=actor, reason=reason)
    )


def _change(
    cli: CliContext,
    gate: RiskGate,
    command: str,
    who: dict[str, str],
    as_json: bool,
    apply: Callable[[], None],
) -> None:
    """Make the change, recorded in command_runs, and print the status it leaves."""
    with cli.recorded(f"risk {command}") as detail:
        apply()
        detail.update({"scope": gate.scope, **who})
    _report(gate, as_json)


def _person_at_gate(
    ctx: typer.Context, scope: str, actor: str, reason: str, *, known: bool = True
) -> tuple[CliContext, RiskGate]:
    """The command's context and the scope's gate, once the change names a person."""
    cli = get_context(ctx)
    _require_person(actor, reason)
    return cli, _gate(cli, scope, known=known)


def _require_person(actor: str, reason: str) -> None:
    if not actor.strip() or actor.strip() == GATE_ACTOR:
        raise ConfigurationError(
            f"--actor {actor!r} does not name a person",
            field="--actor",
            fix="give your own name: only a person may turn these switches",
        )
    if not reason.strip():
        raise ConfigurationError(
            "--reason is empty", field="--reason", fix="say why, e.g. --reason 'loss reviewed'"
        )


def _gate(cli: CliContext, scope: str, *, known: bool) -> RiskGate:
    engine = cli.migrated_engine()
    if known:
        scopes = known_scopes(engine)
        if scope not in scopes:
            raise ConfigurationError(
                f"the risk gate has no state for scope {scope!r}",
                field="--scope",
                fix="give one of: " + (", ".join(scopes) or "(no scope has traded yet)"),
            )
    # The limits do not change what a switch does or what the status reads.
    return RiskGate(engine, RiskLimits(), scope=scope, clock=WallClock())


def known_scopes(engine: Engine) -> list[str]:
    """Scopes the gate decided an order for or holds a switch of."""
    query = union(
        select(RiskGateDecisionRow.scope),
        select(RiskStateRow.scope),
        select(RiskStateEventRow.scope),
    )
    with engine.connect() as connection:
        return sorted(str(row[0]) for row in connection.execute(query))


def status_json(scope: str, status: RiskStatus, events: list[RiskEvent]) -> dict[str, Any]:
    anchor = status.daily_anchor
    return {
        "scope": scope,
        "kill_switch": status.kill_switch,
        "daily_loss_latched": status.daily_loss_latched,
        "disabled_strategies": dict(sorted(status.disabled_strategies.items())),
        "daily_anchor": None
        if anchor is None
        else {"day": anchor.day.isoformat(), "equity": str(anchor.equity)},
        "open_reservations": len(status.reservations),
        "reserved_notional": str(sum(r.remaining * r.price for r in status.reservations)),
        "recent_events": [
            {
                "at": event.at.isoformat(),
                "kind": event.kind,
                "key": event.key,
                "action": event.action,
                "actor": event.actor,
                "reason": event.reason,
            }
            for event in events[-RECENT_EVENTS:]
        ],
    }


def _report(gate: RiskGate, as_json: bool) -> None:
    payload = status_json(gate.scope, gate.status(), gate.events())
    if as_json:
        emit_json(payload)
        return
    console.print(
        f"scope {payload['scope']}: kill switch "
        f"{'ENGAGED' if payload['kill_switch'] else 'off'}, daily loss "
        f"{'LATCHED' if payload['daily_loss_latched'] else 'ok'}, "
        f"{payload['open_reservations']} open reservations "
        f"({payload['reserved_notional']} notional)"
    )
    for name, why in payload["disabled_strategies"].items():
        console.print(f"  disabled: {name} ({why})")
    for event in payload["recent_events"]:
        what = " ".join(part for part in (event["kind"], event["key"], event["action"]) if part)
        console.print(f"  {event['at']} {what} by {event['actor']}: {event['reason']}")
