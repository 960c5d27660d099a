"""`quantgate risk`: a person reads the gate's state and turns the switches only a person may
turn (the daily loss latch, a disabled strategy, the kill switch), naming who and why, in a
real database the gate reads back. A change that would change nothing is refused, so a
typo cannot pass for a reset."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantgate.core import SimulatedClock
from quantgate.risk.config import RiskLimits
from quantgate.risk.gate import RiskGate
from quantgate.storage import create_db_engine, upgrade

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
SCOPE = "paper-main"
PERSON = ["--actor", "alice", "--reason", "loss reviewed with the desk"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, "risk", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def run_json(*args: str) -> dict[str, Any]:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    text = " ".join(result.stderr.split())
    assert all(word in text for word in words), text


def gate_of(home: Path, scope: str) -> RiskGate:
    engine = create_db_engine(f"sqlite:///{home / 'quantgate.db'}")
    upgrade(engine)
    clock = SimulatedClock(datetime.now(UTC))
    return RiskGate(engine, RiskLimits(max_daily_loss=Decimal(500)), scope=scope, clock=clock)


def test_a_person_resets_the_latch_and_re_enables_a_strategy(qg_home: Path) -> None:
    qg_home.mkdir(parents=True)
    gate = gate_of(qg_home, SCOPE)
    assert not gate.observe_equity(Decimal(100_000))  # the day's anchor
    assert gate.observe_equity(Decimal(99_000))  # 1,000 lost: past the 500 limit
    gate.disable_strategy("mom", actor="bob", reason="looping on BTCUSDT")

    status = run_json("status", "--scope", SCOPE)
    assert status["daily_loss_latched"] is True and status["kill_switch"] is False
    assert status["disabled_strategies"] == {"mom": "looping on BTCUSDT"}
    assert status["daily_anchor"]["equity"] == "100000"

    refused(run("status", "--scope", "paper-mian"), "--scope", "paper-main")
    refused(run("reset-daily-loss", "--scope", SCOPE, "--actor", " ", "--reason", "x"), "--actor")
    refused(
        run("reset-daily-loss", "--scope", SCOPE, "--actor", "risk_gate", "--reason", "x"),
        "does not name a person",
    )
    refused(
        run("reset-daily-loss", "--scope", SCOPE, "--actor", "alice", "--reason", ""), "--reason"
    )
    assert gate.status().daily_loss_latched  # nothing refused changed anything

    reset = run_json("reset-daily-loss", "--scope", SCOPE, *PERSON)
    assert reset["daily_loss_latched"] is False
    assert reset["recent_events"][-1]["action"] == "reset"
    assert reset["recent_events"][-1]["actor"] == "alice"
    # The gate itself reads the reset back (a new process, the same database).
    assert not gate_of(qg_home, SCOPE).status().daily_loss_latched
    refused(run("reset-daily-loss", "--scope", SCOPE, *PERSON), "not engaged")

    refused(run("enable-strategy", "momentum", "--scope", SCOPE, *PERSON), "not disabled", "mom")
    enabled = run_json("enable-strategy", "mom", "--scope", SCOPE, *PERSON)
    assert enabled["disabled_strategies"] == {}
    assert gate_of(qg_home, SCOPE).status().disabled_strategies == {}

    with sqlite3.connect(qg_home / "quantgate.db") as db:
        commands = db.execute(
            "select command, status from command_runs"
            " where command like 'risk %' order by started_at"
        ).fetchall()
    assert commands == [
        ("risk reset-daily-loss", "succeeded"),
        ("risk enable-strategy", "succeeded"),
    ]


def test_the_kill_switch_can_stop_a_scope_before_its_first_order(qg_home: Path) -> None:
    qg_home.mkdir(parents=True)
    refused(run("kill-switch", "pause", "--scope", "paper-new", *PERSON), "engage or release")
    engaged = run_json("kill-switch", "engage", "--scope", "paper-new", *PERSON)
    assert engaged["kill_switch"] is True
    assert gate_of(qg_home, "paper-new").status().kill_switch
    assert run_json("status", "--scope", "paper-new")["kill_switch"] is True

    released = run_json("kill-switch", "release", "--scope", "paper-new", *PERSON)
    assert released["kill_switch"] is False
    assert not gate_of(qg_home, "paper-new").status().kill_switch
    refused(run("kill-switch", "release", "--scope", "paper-new", *PERSON), "not engaged")
    actions = [(e.kind, e.action, e.actor) for e in gate_of(qg_home, "paper-new").events()]
    assert actions == [("kill_switch", "engaged", "alice"), ("kill_switch", "released", "alice")]
