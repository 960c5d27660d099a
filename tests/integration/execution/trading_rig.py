"""A real trading stack on a real database for the integration tests.

The broker is a real SimulatedBroker wrapped by CountingBroker, which counts the
calls that reach it and can misbehave on request (transient errors, a lost
response, a crash before or after the venue got the order).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantgate.core import (
    AssetClass,
    Bar,
    Bucket,
    Horizon,
    Instrument,
    Mode,
    Order,
    OrderType,
    Side,
    SimulatedClock,
    TemporaryError,
)
from quantgate.execution import (
    Broker,
    ChildOrder,
    FillBatch,
    GatewayConfig,
    MarketContext,
    OrderGateway,
    OrderState,
    SimBrokerConfig,
    SimulatedBroker,
    StandardCostModel,
    SubmitResult,
    TimeInForce,
)
from quantgate.risk import Holding, Quote, RiskContext, RiskGate, RiskLimits
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.models import RiskGateDecisionRow

D = Decimal
SCOPE = "test"
NOW = datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)


def instrument(symbol: str, bucket: Bucket = Bucket.MAJORS) -> Instrument:
    return Instrument(
        symbol, "sim", AssetClass.CRYPTO_SPOT, bucket, D("0.01"), D("0.001"), date(2017, 1, 1)
    )


BTC = instrument("BTCUSDT")
ETH = instrument("ETHUSDT")
SOL = instrument("SOLUSDT", Bucket.L1)
XRP = instrument("XRPUSDT", Bucket.PAYMENTS)
PRICES = {"BTCUSDT": D(40_000), "ETHUSDT": D(2_500), "SOLUSDT": D(100), "XRPUSDT": D("0.5")}

LIMITS = RiskLimits(
    max_order_notional=D(10_000),
    max_symbol_notional=D(20_000),
    default_max_bucket_notional=D(30_000),
    max_gross_notional=D(50_000),
    max_daily_loss=D(1_000),
    max_orders_per_window=5,
    order_rate_window_seconds=60,
    duplicate_window_seconds=60,
    max_executions_per_strategy_symbol=3,
    execution_window_seconds=86_400,
)


class SimulatedCrash(BaseException):
    """The process dies here: not an Exception, so nothing on the way catches it."""


class CountingBroker(Broker):
    def __init__(self, inner: SimulatedBroker) -> None:
        self.inner = inner
        self.submit_calls = 0
        self.query_calls = 0
        self.transient_failures = 0  # raise TemporaryError this many more times
        self.lose_responses = False  # the venue takes the order, the answer is lost
        self.lose_requests = False  # the request is lost on the way: the venue never sees it
        self.crash_before_venue = False
        self.crash_after_venue = False
        self._lock = threading.Lock()

    @property
    def venue(self) -> str:
        return self.inner.venue

    def submit(self, order: Order, *, time_in_force: TimeInForce = TimeInForce.GTC) -> SubmitResult:
        with self._lock:
            self.submit_calls += 1
            if self.transient_failures > 0:
                self.transient_failures -= 1
                raise TemporaryError("venue unreachable (connection refused)")
        if self.crash_before_venue:
            raise SimulatedCrash
        if self.lose_requests:
            return SubmitResult.unknown(order.client_order_id, "connection reset")
        result = self.inner.submit(order, time_in_force=time_in_force)
        if self.crash_after_venue:
            raise SimulatedCrash
        if self.lose_responses:
            return SubmitResult.unknown(order.client_order_id, "read timeout")
        return result

    def cancel(self, client_order_id: str) -> OrderState | None:
        return self.inner.cancel(client_order_id)

    def query(self, client_order_id: str) -> OrderState | None:
        self.query_calls += 1
        return self.inner.query(client_order_id)

    def fills_since(self, cursor: str | None) -> FillBatch:
        return self.inner.fills_since(cursor)

    def on_bar(self, bar: Bar) -> None:
        self.inner.on_bar(bar)


@dataclass
class Rig:
    engine: Engine
    clock: SimulatedClock
    gate: RiskGate
    broker: CountingBroker
    gateway: OrderGateway[RiskContext]
    cost_model: StandardCostModel = field(default_factory=StandardCostModel)
    scope: str = SCOPE

    def child(self, order: Order, **options: Any) -> ChildOrder:
        return child_of(order, scope=self.scope, **options)

    def decisions(self, client_order_id: str | None = None) -> list[RiskGateDecisionRow]:
        query = (
            select(RiskGateDecisionRow)
            .where(RiskGateDecisionRow.scope == self.scope)
            .order_by(RiskGateDecisionRow.id)
        )
        if client_order_id is not None:
            query = query.where(RiskGateDecisionRow.client_order_id == client_order_id)
        with Session(self.engine) as session:
            return list(session.scalars(query))


def make_rig(
    url: str | Engine,
    *,
    limits: RiskLimits = LIMITS,
    clock: SimulatedClock | None = None,
    broker: CountingBroker | None = None,
    gateway_config: GatewayConfig | None = None,
    sim_config: SimBrokerConfig | None = None,
    scope: str = SCOPE,
) -> Rig:
    """A gate, broker and gateway on `url` (migrated) or an engine already migrated.
    Call again on the same URL to simulate a restart: new objects, same database."""
    if isinstance(url, Engine):
        engine = url
    else:
        engine = create_db_engine(url)
        upgrade(engine)
    clock = clock or SimulatedClock(NOW)
    cost_model = StandardCostModel()
    if broker is None:
        broker = CountingBroker(SimulatedBroker(clock, cost_model, sim_config))
    gate = RiskGate(engine, limits, scope=scope, clock=clock)
    gateway: OrderGateway[RiskContext] = OrderGateway(
        engine, broker, gate, cost_model, scope=scope, clock=clock, config=gateway_config
    )
    return Rig(engine, clock, gate, broker, gateway, cost_model, scope)


def limit_order(
    cid: str,
    instrument: Instrument = BTC,
    side: Side = Side.BUY,
    quantity: str = "0.1",
    price: Decimal | None = None,
    *,
    strategy: str = "mom",
    order_type: OrderType = OrderType.LIMIT,
) -> Order:
    price = PRICES[instrument.symbol] if price is None else price
    return Order(
        client_order_id=cid,
        strategy=strategy,
        instrument=instrument,
        side=side,
        order_type=order_type,
        quantity=D(quantity),
        created_at=NOW,
        limit_price=price if order_type is OrderType.LIMIT else None,
        stop_price=price if order_type is OrderType.STOP else None,
        mode=Mode.PAPER,
    )


def child_of(
    order: Order,
    *,
    time_in_force: TimeInForce = TimeInForce.GTC,
    at: datetime = NOW,
    expires_at: datetime | None = None,
    scope: str = SCOPE,
) -> ChildOrder:
    decision_price = order.limit_price or PRICES.get(order.instrument.symbol, D(1))
    if not decision_price.is_finite() or decision_price <= 0:
        decision_price = PRICES[order.instrument.symbol]
    return ChildOrder(
        order=order,
        time_in_force=time_in_force,
        release_at=at,
        expires_at=expires_at,
        policy="test_policy",
        scope=scope,
        horizon=Horizon.H1,
        decision_time=at,
        decision_price=decision_price,
        target_quantity=order.quantity if order.quantity.is_finite() else D(0),
        slice_index=0,
        slice_count=1,
    )


def quotes(at: datetime = NOW, spread_bps: str = "1") -> dict[str, Quote]:
    return {symbol: Quote.at_price(price, at, D(spread_bps)) for symbol, price in PRICES.items()}


def context(
    *,
    at: datetime = NOW,
    holdings: dict[str, tuple[Instrument, str]] | None = None,
    equity: str | None = "100000",
    quote_overrides: dict[str, Quote] | None = None,
) -> RiskContext:
    held = {
        symbol: Holding(symbol, inst.bucket, D(quantity), PRICES[symbol])
        for symbol, (inst, quantity) in (holdings or {}).items()
    }
    return RiskContext(
        quotes={**quotes(at), **(quote_overrides or {})},
        holdings=held,
        equity=None if equity is None else D(equity),
    )


def market(symbol: str = "BTCUSDT") -> MarketContext:
    return MarketContext("sim", mid=PRICES[symbol], bar_volume=D(1_000_000), volatility=0.01)


def next_bar(symbol: str, *, ts: datetime = NOW - timedelta(seconds=5), **prices: float) -> Bar:
    """The bar after the decision: it opens at 10:00 and is known at 11:00:05."""
    price = float(PRICES[symbol])
    values = {"open": price, "high": price, "low": price, "close": price, "volume": 1e9}
    values.update(prices)
    return Bar(symbol, ts, ts + HOUR + timedelta(seconds=5), **values)
