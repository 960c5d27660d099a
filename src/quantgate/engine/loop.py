"""The one event loop. Backtest, paper and live run this class; they differ only in the
Clock, MarketFeed and Broker plugged in (see engine.ports).

Per market event (everything that became known at one instant `at`):

1. the clock moves to `at`; each bar goes to the broker first, which matches the
   orders sent at earlier events (never the bar that caused them: an order sent
   at `t` can only trade in a bar that was not yet known at `t`);
2. `gateway.reconcile()` pulls the fills; every fill is booked (cash, positions),
   and handed (`on_fill`) to the strategies that caused its order only: those whose
   signals for the symbol made the decision that planned it. A re-sizing that no
   signal for the symbol asked for (another symbol's signal moved the weights) is
   nobody's trade, and a strategy that tracks its entry price must not average it in;
3. the daily-loss watch compares equity with the day's first equity and lets the
   risk gate latch (the gate is told the day's anchor before the day's first
   order, and on an imminent breach; nothing is written on quiet bars);
4. the bars, then the predictions, go to the strategies; their signals update
   the signal book;
5. when a signal arrived, the allocator turns the book into target weights,
   weights become target quantities (equity × weight × capital_fraction ÷ price,
   toward zero to the lot), and the execution policy plans child orders for
   each target delta into the schedule (replacing unsent children, cancelling
   the symbol's working orders);
6. children that are due go through `gateway.submit_many` together (outbox → risk
   gate → broker; one unit of work for their rows, then the sends);
7. orders that ended this event with part unfilled (an IOC cut short past its
   follow-ups, an expired last slice, a denial) are told (`on_order_ended`) to the
   strategies that caused them, once their symbol has nothing more planned or working;
8. the book is marked to the closes: one point of the equity curve.

The database is touched only when orders exist: reconciliation runs while
orders are open (or on every event for paper/live, `reconcile_when_idle`), and
the risk gate is consulted when an order goes out. `run` commits what the gateway's
ledger still holds before it returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from time import perf_counter
from typing import Any

import structlog

from quantgate.core.clock import Clock
from quantgate.core.enums import Horizon, Mode, OrderStatus, Side
from quantgate.core.errors import ProgrammerError
from quantgate.core.signals import Signal
from quantgate.core.types import Bar, Fill, Instrument, OrderEnded
from quantgate.engine.config import EngineConfig
from quantgate.engine.history import MarketHistory
from quantgate.engine.portfolio_state import ZERO, PortfolioState, price_decimal
from quantgate.engine.ports import MarketEvent, MarketFeed, advance_clock
from quantgate.execution.brokers.base import Broker
from quantgate.execution.costs import CostModel, MarketContext, StandardCostModel
from quantgate.execution.gateway import (
    FillMark,
    GatewayResult,
    OrderGateway,
    Submission,
    SubmitStatus,
)
from quantgate.execution.intent import ChildOrder, ExecutionIntent, ExecutionPlan
from quantgate.execution.outbox import OutboxOrder
from quantgate.execution.policies import SHORT_HORIZON_EXEC, PolicyBook
from quantgate.execution.schedule import ExecutionSchedule
from quantgate.portfolio.book import SignalBook
from quantgate.portfolio.result import AllocationResult
from quantgate.portfolio.selection import PortfolioConfig, allocate
from quantgate.risk.context import Holding, Quote, RiskContext
from quantgate.risk.gate import RiskGate
from quantgate.strategy.base import Strategy

Volatility = Callable[[str], float | None]
Progress = Callable[[int], None]

# The float pre-check of the daily loss asks the gate (exact Decimal) a little early.
_LOSS_PRECHECK = 0.999


@dataclass
class EquityCurve:
    """One point per event: equity marked to the latest closes, cash and gross exposure."""

    at: list[datetime] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    cash: list[float] = field(default_factory=list)
    gross: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.at)

    def append(self, at: datetime, equity: float, cash: float, gross: float) -> None:
        self.at.append(at)
        self.equity.append(equity)
        self.cash.append(cash)
        self.gross.append(gross)


@dataclass
class OpenOrder:
    """An order the venue may still fill: what is left of it and when it expires."""

    symbol: str
    remaining: Decimal
    expires_at: datetime | None
    side: Side


@dataclass
class PendingIntent:
    """An intent whose children are (partly) still in the schedule; kept for checkpoints."""

    intent: ExecutionIntent
    market: MarketContext
    # The names of the strategies that caused it (empty for a re-sizing).
    causes: tuple[str, ...] = ()


# Submit outcomes after which the order can never fill.
log = structlog.get_logger(__name__)

_NEVER_FILLS = frozenset({SubmitStatus.DENIED, SubmitStatus.REJECTED, SubmitStatus.REFUSED})


@dataclass
class LoopStats:
    events: int = 0
    bars: int = 0
    signals: int = 0
    rebalances: int = 0
    intents: int = 0
    submits: Counter[str] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)
    allocation_fallbacks: int = 0
    last_fallback_reason: str | None = None
    # Slices re-sized to carry an earlier slice's shortfall, and slices with nothing left.
    slices_resized: int = 0
    slices_dropped: int = 0
    # Slices priced from the market at their release (it had moved the plan's way).
    slices_repriced: int = 0
    # Further slices sent after a short-horizon order was cut short (ShortHorizonConfig.follow_ups).
    follow_ups: int = 0
    # Orders that ended short of their plan's target, told to the strategies that caused them.
    orders_ended_short: int = 0
    # Fills recorded after the checkpoint a restart restored, booked at the restart.
    fills_booked_on_restart: int = 0
    risk_observations: int = 0
    daily_loss_latched: bool = False
    # Wall time spent in the gateway and the risk gate (the database side of orders).
    order_path_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "bars": self.bars,
            "signals": self.signals,
            "rebalances": self.rebalances,
            "intents": self.intents,
            "submits": dict(sorted(self.submits.items())),
            "denials": dict(sorted(self.denials.items())),
            "allocation_fallbacks": self.allocation_fallbacks,
            "last_fallback_reason": self.last_fallback_reason,
            "slices_resized": self.slices_resized,
            "slices_dropped": self.slices_dropped,
            "slices_repriced": self.slices_repriced,
            "follow_ups": self.follow_ups,
            "orders_ended_short": self.orders_ended_short,
            "fills_booked_on_restart": self.fills_booked_on_restart,
            "risk_observations": self.risk_observations,
            "daily_loss_latched": self.daily_loss_latched,
            "order_path_seconds": self.order_path_seconds,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> LoopStats:
        return cls(
            events=int(payload["events"]),
            bars=int(payload["bars"]),
            signals=int(payload["signals"]),
            rebalances=int(payload["rebalances"]),
            intents=int(payload["intents"]),
            submits=Counter(payload["submits"]),
            denials=Counter(payload["denials"]),
            allocation_fallbacks=int(payload["allocation_fallbacks"]),
            last_fallback_reason=payload["last_fallback_reason"],
            slices_resized=int(payload.get("slices_resized", 0)),
            slices_dropped=int(payload.get("slices_dropped", 0)),
            slices_repriced=int(payload.get("slices_repriced", 0)),
            follow_ups=int(payload.get("follow_ups", 0)),
            orders_ended_short=int(payload.get("orders_ended_short", 0)),
            fills_booked_on_restart=int(payload.get("fills_booked_on_restart", 0)),
            risk_observations=int(payload["risk_observations"]),
            daily_loss_latched=bool(payload["daily_loss_latched"]),
            order_path_seconds=float(payload.get("order_path_seconds", 0.0)),
        )


class TradingLoop:
    def __init__(
        self,
        *,
        clock: Clock,
        feed: MarketFeed,
        broker: Broker,
        gateway: OrderGateway[RiskContext],
        gate: RiskGate,
        policies: PolicyBook,
        strategies: Sequence[Strategy[Any]],
        instruments: Mapping[str, Instrument],
        portfolio: PortfolioConfig,
        state: PortfolioState,
        cost_model: CostModel,
        config: EngineConfig | None = None,
        schedule: ExecutionSchedule | None = None,
        volatility: Volatility | None = None,
    ) -> None:
        if gateway.broker is not broker:
            raise ProgrammerError("the gateway must send to the loop's broker")
        if not strategies:
            raise ProgrammerError("the loop needs at least one strategy")
        names = [strategy.name for strategy in strategies]
        if len(set(names)) != len(names):
            raise ProgrammerError(f"strategy names must be unique, got {names}")
        self.config = config or EngineConfig()
        self.clock = clock
        self.feed = feed
        self.broker = broker
        self.gateway = gateway
        self.gate = gate
        self.policies = policies
        self.schedule = schedule or ExecutionSchedule()
        self.strategies = list(strategies)
        self._strategies_by_name = {strategy.name: strategy for strategy in self.strategies}
        self.instruments = dict(instruments)
        self.buckets = {symbol: inst.bucket for symbol, inst in self.instruments.items()}
        self.portfolio = portfolio
        self.state = state
        self.cost_model = cost_model
        self.history = MarketHistory(self.config.history_bars)
        self.volatility: Volatility = volatility or self.history.ewma_sigma
        self.book = SignalBook()
        self.order_strategy = self.config.order_strategy or (
            names[0] if len(names) == 1 else "portfolio"
        )
        self.mode: Mode = self.config.mode
        self.scope = gateway.scope

        self.last_bars: dict[str, Bar] = {}
        self.closes: dict[str, float] = {}
        # What orders need of the market, worked out once per event (when first needed) and
        # forgotten when the closes move (`_closes_moved`): the closes as Decimal, each
        # symbol's MarketContext and modelled quoted spread, and the exact equity (with the
        # book it was marked for).
        self._exact_closes: dict[str, Decimal] = {}
        self._markets: dict[str, MarketContext] = {}
        self._spreads: dict[str, Decimal] = {}
        self._exact_equity: tuple[PortfolioState, int, Decimal] | None = None
        self._capital_fraction = Decimal(repr(self.config.capital_fraction))
        self._min_trade_weight = Decimal(repr(self.config.min_trade_weight))
        self.curve = EquityCurve()
        self.stats = LoopStats()
        self.cursor: datetime | None = None
        self.targets: dict[str, Decimal] = {}
        # Short-horizon orders that ended cut short in this event's reconcile, with their
        # causes: followed up in the same event (so never part of a checkpoint).
        self._cut_short: list[tuple[OutboxOrder, tuple[str, ...]]] = []
        # Off, nothing is collected (and no outbox row read) for them.
        self._follows_up = policies.short.max_follow_ups > 0
        # Orders some strategies caused that ended in this event with part unfilled, with
        # those strategies: told (`on_order_ended`) at the event's end if their symbol has
        # nothing more planned or working by then (never part of a checkpoint).
        self._ended: list[tuple[OrderEnded, tuple[str, ...]]] = []
        self.last_allocation: AllocationResult | None = None
        # Orders still open in the outbox. Kept from submit results, fills and settled
        # orders so that an idle bar costs no query; re-read from the database at start,
        # after cancels and after expiries.
        self.open_orders: dict[str, OpenOrder] = {}
        self.pending: dict[str, PendingIntent] = {}
        # Per client order id of a child planned for some strategies' signals, their names:
        # who is told of its fills. Kept while the child waits or its order is open.
        self.order_causes: dict[str, tuple[str, ...]] = {}
        # Daily-loss watch: the day's first equity, and the day the gate was told it.
        self._day: date | None = None
        self._day_open_equity: Decimal | None = None
        self._day_open_equity_f = 0.0
        self._anchor_sent: date | None = None
        self._loss_limit_f = float(gate.limits.max_daily_loss)
        self._started = False
        # Set by a restore: the fills the restored book holds (engine.checkpoint).
        self.fills_booked_through: FillMark | None = None

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        """Settle what the venue and the outbox disagree on before the first event."""
        if self._started:
            return
        self._started = True
        self._book_fills_after_checkpoint()
        self._reconcile(self.clock.now())
        self._refresh_open_orders()

    def run(
        self,
        *,
        max_events: int | None = None,
        progress: Progress | None = None,
        progress_every: int = 1000,
        on_event: Callable[[TradingLoop], None] | None = None,
    ) -> int:
        """Process the feed's events after the cursor; returns how many were processed."""
        self.start()
        events, step = self.feed.events(after=self.cursor), self.step
        done = 0
        if on_event is None and progress is None and max_events is None:
            # Nothing to do between events (a plain backtest): no checks per event. The
            # count is what enumerate last gave (read after the loop).
            for done, event in enumerate(events, 1):  # noqa: B007
                step(event)
        else:
            for event in events:
                step(event)
                done += 1
                if on_event is not None:
                    on_event(self)
                if progress is not None and done % progress_every == 0:
                    progress(done)
                if max_events is not None and done >= max_events:
                    break
        began = perf_counter()
        self.gateway.commit()
        self.stats.order_path_seconds += perf_counter() - began
        if progress is not None:
            progress(done)
        return done

    def step(self, event: MarketEvent) -> None:
        at = event.at
        if self.cursor is not None and at <= self.cursor:
            raise ProgrammerError(
                f"event at {at.isoformat()} is not after the cursor {self.cursor.isoformat()}"
            )
        advance_clock(self.clock, at)
        bars = event.bars
        self.broker.on_bars(bars)
        last_bars, closes, windows = self.last_bars, self.closes, self.history.by_symbol
        for bar in bars:
            symbol, close = bar.symbol, bar.close
            last_bars[symbol] = bar
            closes[symbol] = close
            window = windows.get(symbol)
            if window is None:
                window = self.history.series(symbol)
            window.append(close)
        self._closes_moved()
        if self.open_orders or self.config.reconcile_when_idle:
            self._reconcile(at)
        state = self.state
        fills_marked = state.fill_count
        equity, gross = state.marks_float(closes)
        self._watch_daily_loss(at, equity)

        strategies = self.strategies
        if len(strategies) == 1:
            signals = strategies[0].on_bars(bars)
        else:
            # Bar by bar, each strategy in turn: the order the signals are booked in.
            signals = []
            for bar in bars:
                for strategy in strategies:
                    emitted = strategy.on_bar(bar)
                    if emitted:
                        signals.extend(emitted)
        for prediction in event.predictions:
            for strategy in strategies:
                emitted = strategy.on_prediction(prediction)
                if emitted:
                    signals.extend(emitted)
        if signals:
            self.stats.signals += len(signals)
            self.book.update(signals)
            self._rebalance(at, signals)
        if self._cut_short:
            self._follow_up(at)
        if self.pending:
            self._release(at)
        if self._ended:
            self._tell_ended()

        stats = self.stats
        stats.events += 1
        stats.bars += len(bars)
        if self.state is not state or state.fill_count != fills_marked:
            # Booked after the marking above (none is today: orders fill in later bars).
            state = self.state
            gross = state.gross_float(closes)
        curve = self.curve
        curve.at.append(at)
        curve.equity.append(equity)
        curve.cash.append(state.cash_float)
        curve.gross.append(gross)
        self.cursor = at

    # -- fills -----------------------------------------------------------------------------

    def _reconcile(self, now: datetime) -> None:
        began = perf_counter()
        report = self.gateway.reconcile()
        self.stats.order_path_seconds += perf_counter() - began
        self._book_fills(report.fills)
        open_orders, order_causes = self.open_orders, self.order_causes
        for order in report.settled:
            if order.status.is_terminal:
                open_orders.pop(order.client_order_id, None)
                causes = order_causes.pop(order.client_order_id, ())
                if order.filled_quantity >= order.quantity:
                    continue
                if (
                    self._follows_up
                    and order.status is OrderStatus.CANCELLED
                    and order.policy == SHORT_HORIZON_EXEC
                ):
                    self._cut_short.append((order, causes))
                if causes:
                    unfilled = order.quantity - order.filled_quantity
                    ended = OrderEnded(
                        order.client_order_id,
                        order.symbol,
                        order.side,
                        unfilled,
                        order.status.value,
                        now,
                    )
                    self._ended.append((ended, causes))
        if any(o.expires_at is not None and o.expires_at <= now for o in open_orders.values()):
            self._expire(now)

    def _expire(self, now: datetime) -> None:
        """Cancel the passive slices whose window closed; an expired one some strategies
        caused is an order that ended with its rest unfilled."""
        expiring: dict[str, tuple[str, ...]] = {}
        for client_order_id, open_order in self.open_orders.items():
            if open_order.expires_at is not None and open_order.expires_at <= now:
                causes = self.order_causes.get(client_order_id)
                if causes:
                    expiring[client_order_id] = causes
        began = perf_counter()
        self.gateway.expire()
        self.stats.order_path_seconds += perf_counter() - began
        self._book_cancel_fills()
        # What is left of each (after fills that raced its cancel), before it is forgotten.
        left = {cid: self.open_orders[cid] for cid in expiring if cid in self.open_orders}
        self._refresh_open_orders()
        for client_order_id, open_order in left.items():
            if client_order_id in self.open_orders:
                continue  # the cancel did not go through; it may still fill
            ended = OrderEnded(
                client_order_id,
                open_order.symbol,
                open_order.side,
                open_order.remaining,
                "expired",
                now,
            )
            self._ended.append((ended, expiring[client_order_id]))

    def _book_fills_after_checkpoint(self) -> None:
        """Book the fills recorded after the restored checkpoint: a process that stopped
        between recording fills and its next checkpoint booked them in a book that is
        gone, and no reconcile reports them again (the venue's fill cursor moved on and
        their orders are settled)."""
        mark, self.fills_booked_through = self.fills_booked_through, None
        if mark is None:
            return
        fills = self.gateway.fills_not_booked(mark)
        for fill in fills:
            self._book_fill(fill)
        if fills:
            self.stats.fills_booked_on_restart += len(fills)
            log.warning(
                "fills_booked_on_restart",
                scope=self.scope,
                count=len(fills),
                first=fills[0].trade_id,
                last=fills[-1].trade_id,
            )

    def _book_fills(self, fills: Iterable[Fill]) -> None:
        open_orders, order_causes = self.open_orders, self.order_causes
        for fill in fills:
            self._book_fill(fill)
            tracked = open_orders.get(fill.client_order_id)
            if tracked is not None:
                tracked.remaining -= fill.quantity
                if tracked.remaining <= 0:
                    del open_orders[fill.client_order_id]
                    order_causes.pop(fill.client_order_id, None)

    def _book_cancel_fills(self) -> bool:
        """Book the fills the venue's answers to cancels carried (a fill that raced the
        cancel): before anything is decided on the positions. True when there were any."""
        fills = self.gateway.take_unreported_fills()
        if fills:
            self._book_fills(fills)
        return bool(fills)

    def _refresh_open_orders(self) -> None:
        began = perf_counter()
        self.open_orders = {
            order.client_order_id: OpenOrder(
                order.symbol, order.remaining, order.expires_at, order.side
            )
            for order in self.gateway.open_orders()
        }
        self.stats.order_path_seconds += perf_counter() - began
        if self.order_causes:
            # Cancelled and expired orders fill no more: their causes go.
            alive = self.open_orders.keys() | {c.client_order_id for c in self.schedule.pending()}
            self.order_causes = {k: v for k, v in self.order_causes.items() if k in alive}

    def _book_fill(self, fill: Fill) -> None:
        self.state.apply(fill)
        causes = self.order_causes.get(fill.client_order_id)
        if causes:
            by_name = self._strategies_by_name
            for name in causes:
                strategy = by_name.get(name)
                if strategy is not None:
                    strategy.on_fill(fill)

    # -- risk ------------------------------------------------------------------------------

    def _closes_moved(self) -> None:
        self._exact_closes.clear()
        self._markets.clear()
        self._spreads.clear()
        self._exact_equity = None

    def _exact_close(self, symbol: str) -> Decimal:
        exact = self._exact_closes.get(symbol)
        if exact is None:
            exact = self._exact_closes[symbol] = price_decimal(self.closes[symbol])
        return exact

    def _marks(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        return {s: self._exact_close(s) for s in symbols}

    def exact_equity(self) -> Decimal:
        state, known = self.state, self._exact_equity
        # The same closes (cleared when they move) and the same book (no fill since).
        if known is not None and known[0] is state and known[1] == state.fill_count:
            return known[2]
        equity = state.equity(self._marks(state.held()))
        self._exact_equity = (state, state.fill_count, equity)
        return equity

    def _watch_daily_loss(self, at: datetime, equity: float) -> None:
        day = at.date()
        if day != self._day:
            # The day's anchor is its first equity, marked now (exactly, once a day).
            self._day = day
            self._day_open_equity = self.exact_equity()
            self._day_open_equity_f = equity
        if self.stats.daily_loss_latched:
            return
        if self._day_open_equity_f - equity < self._loss_limit_f * _LOSS_PRECHECK:
            return
        self._tell_anchor()
        self._observe(self.exact_equity())

    def _observe(self, equity: Decimal) -> None:
        began = perf_counter()
        self.stats.risk_observations += 1
        if self.gate.observe_equity(equity):
            self.stats.daily_loss_latched = True
        self.stats.order_path_seconds += perf_counter() - began

    def _tell_anchor(self) -> None:
        """Give the gate the day's first equity, once per day, before it decides anything:
        the same anchor it would have had from an observation at every event."""
        if self._anchor_sent == self._day or self._day_open_equity is None:
            return
        self._anchor_sent = self._day
        self._observe(self._day_open_equity)

    def _risk_view(self) -> tuple[dict[str, Quote], dict[str, Holding]]:
        """Quotes (last closes, no spread) and holdings; nothing changes them within an event."""
        exact_close = self._exact_close
        # Bid and ask are the close itself: what Quote.at_price(close, at) makes of it, since
        # a zero spread's half is close × 0 / 10000 / 2, a zero of the close's own exponent,
        # and the close minus or plus that zero is the close, digit for digit.
        quotes = {}
        for symbol, bar in self.last_bars.items():
            close = exact_close(symbol)
            quotes[symbol] = Quote(close, close, bar.available_at)
        buckets = self.buckets
        holdings = {
            held: Holding(held, buckets[held], quantity, exact_close(held))
            for held, quantity in self.state.held().items()
        }
        return quotes, holdings

    def _risk_context(
        self,
        symbol: str,
        equity: Decimal,
        view: tuple[dict[str, Quote], dict[str, Holding]],
    ) -> RiskContext:
        """The order's own symbol is quoted with the modelled spread (bars carry none)."""
        quotes, holdings = view
        bar = self.last_bars[symbol]
        own = Quote.at_price(self._exact_close(symbol), bar.available_at, self._spread_bps(symbol))
        return RiskContext(quotes={**quotes, symbol: own}, holdings=holdings, equity=equity)

    def _spread_bps(self, symbol: str) -> Decimal:
        """The modelled quoted spread for bars (which carry none): twice the half-spread."""
        if not isinstance(self.cost_model, StandardCostModel):
            return ZERO
        spread = self._spreads.get(symbol)
        if spread is None:
            # The half-spread reads the volatility only, as the event's MarketContext has it.
            half = self.cost_model.half_spread_bps(self._market(symbol))
            spread = self._spreads[symbol] = Decimal(f"{2 * half:.6f}")
        return spread

    # -- decisions -------------------------------------------------------------------------

    def _rebalance(self, at: datetime, signals: Sequence[Signal]) -> None:
        self.stats.rebalances += 1
        active = self.book.active()
        risk_model, missing = None, None
        if self.portfolio.allocator == "allocator_v2" and active:
            symbols = sorted({signal.symbol for signal in active})
            risk_model, missing = self.history.risk_model_or_reason(
                symbols, self.config.risk_model_horizon
            )
        result = allocate(
            active,
            self.portfolio,
            risk_model=risk_model,
            buckets=self.buckets,
            risk_model_missing=missing,
        )
        self.last_allocation = result
        if result.fell_back:
            self.stats.allocation_fallbacks += 1
            self.stats.last_fallback_reason = result.fallback_reason
        horizons = _horizons(active, signals)
        caused_by = _causes_by_symbol(signals)
        equity = self.exact_equity()
        fraction = self._capital_fraction
        floor = self._min_trade_weight * equity
        weights, held, pending = result.target_weights, self.state.held(), self.pending
        last_bars, instruments, targets = self.last_bars, self.instruments, self.targets
        exact_close, quantity = self._exact_close, self.state.quantity
        # The same for every intent of this decision.
        scope, strategy, mode = self.scope, self.order_strategy, self.mode
        default_horizon = self.config.default_horizon
        # With the symbols of this batch's signals: an exit for a symbol not held still
        # sets its target (a follow-up of an earlier plan must not outlive it).
        for symbol in sorted({*weights, *held, *pending, *caused_by}):
            instrument = instruments.get(symbol)
            if symbol not in last_bars or instrument is None:
                continue
            price = exact_close(symbol)
            weight = _exact_weight(weights.get(symbol, 0.0))
            target = _toward_zero(equity * weight * fraction / price, instrument.lot_size)
            # The position itself, not `held`: a flat one keeps its exponent (0.000).
            current = quantity(symbol)
            targets[symbol] = target
            waiting = pending.get(symbol)
            working = waiting is not None or self._has_open_orders(symbol)
            if target == current and not working:
                continue
            if target != 0 and abs(target - current) * price < floor and not working:
                # Too small a move to start trading for. A plan already under way is
                # re-aimed instead, whatever the size: left alone, it would carry on to
                # the target this decision replaced.
                continue
            # Positional, in field order: keywords cost more per call.
            intent = ExecutionIntent(
                scope,
                strategy,
                instrument,
                current,
                target,
                at,
                price,
                # No signal for the symbol any more (its exit was a batch ago): the plan
                # still carrying that exit out keeps its horizon (no 1d exit dumped at 1h).
                horizons.get(symbol)
                or (default_horizon if waiting is None else waiting.intent.horizon),
                mode,
            )
            causes = caused_by.get(symbol)
            if causes is None:
                # No signal for the symbol: a re-sizing, unless it re-plans children still
                # waiting to carry out an earlier decision, whose causes they keep.
                causes = () if waiting is None else waiting.causes
            self._plan(intent, self._market(symbol), causes)

    def _plan(
        self, intent: ExecutionIntent, market: MarketContext, causes: tuple[str, ...] = ()
    ) -> None:
        symbol = intent.instrument.symbol
        if self._has_open_orders(symbol):
            # A new target replaces the old one: what is still working toward it goes.
            began = perf_counter()
            self.gateway.cancel_open(strategy=intent.strategy, symbol=symbol)
            self.stats.order_path_seconds += perf_counter() - began
            if self._book_cancel_fills():
                # What filled while the cancel was on its way is held now: the new plan
                # moves from there to the same target.
                intent = replace(intent, current_quantity=self.state.quantity(symbol))
            self._refresh_open_orders()
        self._schedule(self.policies.plan(intent, market), market, causes)

    def _schedule(
        self, plan: ExecutionPlan, market: MarketContext, causes: tuple[str, ...]
    ) -> None:
        """Put the plan's children in the schedule (in place of the symbol's earlier ones)."""
        intent = plan.intent
        superseded = self.schedule.add(plan)
        order_causes = self.order_causes
        if superseded and order_causes:
            for child in superseded:
                order_causes.pop(child.client_order_id, None)
        if causes:
            for child in plan.children:
                order_causes[child.client_order_id] = causes
        self.stats.intents += 1
        if plan.children:
            self.pending[intent.instrument.symbol] = PendingIntent(intent, market, causes)
        else:
            self.pending.pop(intent.instrument.symbol, None)

    def _follow_up(self, at: datetime) -> None:
        """Send the next slice of each short-horizon plan whose order the venue filled only
        in part (the rest of the IOC cancelled), unless a later decision replaced the plan
        (a new target, a plan of its own) or its policy sends no more: one per symbol, at
        the plan's price bound, for what is still to trade toward its target."""
        cut, self._cut_short = self._cut_short, []
        done: set[str] = set()
        for order, causes in cut:
            symbol = order.symbol
            if symbol in done or symbol in self.pending or self._has_open_orders(symbol):
                continue
            done.add(symbol)
            market = self._market(symbol)
            following = self._next_slice(order, at, market)
            if following is None:
                continue
            intent, child = following
            self.stats.follow_ups += 1
            self._schedule(ExecutionPlan(intent, child.policy, (child,)), market, causes)

    def _next_slice(
        self, order: OutboxOrder, at: datetime, market: MarketContext
    ) -> tuple[ExecutionIntent, ChildOrder] | None:
        """The cut-short order's plan from the position now to its target (decided when
        it was: the same ids, the same price bound), and its next slice."""
        began = perf_counter()
        planned = self.gateway.order_intent(order.client_order_id)
        self.stats.order_path_seconds += perf_counter() - began
        instrument = self.instruments.get(order.symbol)
        if planned is None or instrument is None:
            return None
        target = Decimal(planned["target_quantity"])
        current = self.state.quantity(order.symbol)
        if self.targets.get(order.symbol) != target or current == target:
            return None  # a later decision moved the target, or the plan is done
        intent = ExecutionIntent(
            self.scope,
            order.strategy,
            instrument,
            current,
            target,
            order.decision_time,
            order.decision_price,
            Horizon(planned["horizon"]),
            self.mode,
        )
        if intent.side is not order.side:
            return None
        policy = self.policies.for_horizon(intent.horizon)
        child = policy.follow_up(intent, int(planned["slice_index"]) + 1, at, market)
        return None if child is None else (intent, child)

    def _tell_ended(self) -> None:
        """Tell the strategies that caused them of orders that ended short, where their
        symbol has nothing more planned or working: the plan is over (an order whose
        rest a follow-up, a later slice or a new decision carries on is not an end)."""
        ended, self._ended = self._ended, []
        by_name = self._strategies_by_name
        for order, causes in ended:
            symbol = order.symbol
            if symbol in self.pending or self._has_open_orders(symbol):
                continue
            self.stats.orders_ended_short += 1
            for name in causes:
                strategy = by_name.get(name)
                if strategy is not None:
                    strategy.on_order_ended(order)

    def _has_open_orders(self, symbol: str) -> bool:
        open_orders = self.open_orders
        return bool(open_orders) and any(o.symbol == symbol for o in open_orders.values())

    def _market(self, symbol: str) -> MarketContext:
        market = self._markets.get(symbol)
        if market is None:
            market = self._markets[symbol] = MarketContext(
                venue=self.broker.venue,
                mid=self._exact_close(symbol),
                bar_volume=price_decimal(self.last_bars[symbol].volume),
                volatility=self.volatility(symbol),
            )
        return market

    def _release(self, at: datetime) -> None:
        due = self.schedule.due(at, order=self._submission_order)
        if due and any(child.slice_count > 1 for child in due):
            due = self._catch_up(due)
        if due:
            self._tell_anchor()
            equity = self.exact_equity()
            view = self._risk_view()
            risk_context, market = self._risk_context, self._market
            submissions = []
            for child in due:
                symbol = child.order.instrument.symbol
                submissions.append(
                    Submission(child, risk_context(symbol, equity, view), market(symbol))
                )
            stats, open_orders, order_causes = self.stats, self.open_orders, self.order_causes
            began = perf_counter()
            results = self.gateway.submit_many(submissions)
            stats.order_path_seconds += perf_counter() - began
            for child, result in zip(due, results, strict=True):
                status = result.status
                stats.submits[status.value] += 1
                if status in (SubmitStatus.SENT, SubmitStatus.IN_FLIGHT):
                    order = child.order
                    open_orders[child.client_order_id] = OpenOrder(
                        order.instrument.symbol, order.quantity, child.expires_at, order.side
                    )
                elif status is SubmitStatus.DENIED:
                    reason = result.deny_reason.value if result.deny_reason else "denied"
                    stats.denials[reason] += 1
                if status in _NEVER_FILLS and order_causes:
                    # Refused (the circuit is open) too: the loop does not send it again.
                    denied_causes = order_causes.pop(child.client_order_id, None)
                    if denied_causes:
                        self._ended.append((_never_sent(child, result, at), denied_causes))
        waiting = {child.order.instrument.symbol for child in self.schedule.pending()}
        self.pending = {s: p for s, p in self.pending.items() if s in waiting}

    def _catch_up(self, due: list[ChildOrder]) -> list[ChildOrder]:
        """Slices of a multi-slice plan as its policy sends them: priced for the market at
        their release (policy `reprice`), sized by what the plan still
        has to trade: its target less the position and the symbol's open orders on the
        plan's side (its own; an earlier plan's that a cancel has not taken off yet) and the
        slices released before them now. Earlier slices are settled by now: an expired
        passive slice was cancelled and a missed IOC slice reported before this release.
        No slice is carried past the gate's per-order limits (notional at the higher of its
        limit and the close, quantity): denied, it would fill nothing and pass it all on."""
        waiting = Counter(child.order.instrument.symbol for child in self.schedule.pending())
        due_left = Counter(c.order.instrument.symbol for c in due if c.slice_count > 1)
        released_now: dict[str, Decimal] = {}
        # Per symbol and side: an order of an earlier plan that its cancel has not taken off
        # yet (in flight, say) may still work the other way.
        open_quantity: dict[tuple[str, Side], Decimal] = {}
        for order in self.open_orders.values():
            key = (order.symbol, order.side)
            open_quantity[key] = open_quantity.get(key, ZERO) + order.remaining
        sent: list[ChildOrder] = []
        for child in due:
            symbol = child.order.instrument.symbol
            waiting_plan = self.pending.get(symbol)
            if (
                child.slice_count == 1
                or waiting_plan is None
                or child.decision_time != waiting_plan.intent.decision_time
                or child.target_quantity != waiting_plan.intent.target_quantity
            ):
                sent.append(child)  # not a slice of the plan the loop tracks
                continue
            intent = waiting_plan.intent
            to_target = intent.target_quantity - self.state.quantity(symbol)
            if intent.side is not Side.BUY:
                to_target = -to_target
            # What works toward the target counts as if it fills; what works against it as if
            # it does not (should it fill, the later slices see it in the position): either
            # way no slice takes the position past the target.
            working = open_quantity.get((symbol, intent.side), ZERO)
            working += released_now.get(symbol, ZERO)
            slices_left = waiting[symbol] + due_left[symbol]
            due_left[symbol] -= 1
            policy = self.policies.for_horizon(intent.horizon)
            # Priced first: the gate's per-order notional limit reads the slice's limit.
            priced = policy.reprice(child, intent, self._exact_close(symbol))
            if priced is not child:
                self.stats.slices_repriced += 1
            resized = policy.catch_up(
                priced,
                intent,
                to_target - working,
                slices_left,
                waiting_plan.market,
                self._largest_order(priced),
            )
            if resized is None:
                self.stats.slices_dropped += 1
                self.order_causes.pop(child.client_order_id, None)
                continue
            if resized is not priced:
                self.stats.slices_resized += 1
            released_now[symbol] = released_now.get(symbol, ZERO) + resized.order.quantity
            sent.append(resized)
        return sent

    def _largest_order(self, child: ChildOrder) -> Decimal:
        """The largest quantity of the child the gate's per-order limits allow, its notional
        taken at the higher of its limit and the close (never below the gate's price)."""
        limits, symbol = self.gate.limits, child.order.instrument.symbol
        close = self._exact_close(symbol)
        largest = limits.max_order_notional / max(child.order.limit_price or close, close)
        quantity_limit = limits.order_quantity_limit(symbol)
        return largest if quantity_limit is None else min(largest, quantity_limit)

    @staticmethod
    def _submission_order(child: ChildOrder) -> tuple[datetime, str, int]:
        """By release time, symbol and slice; never by client order id, which hashes the
        run's scope: when a risk limit binds, which order gets the room must not depend
        on the run id."""
        return (child.release_at, child.order.instrument.symbol, child.slice_index)

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """The loop's state as JSON types; see engine.checkpoint for what else a restart needs."""
        from quantgate.engine.checkpoint import loop_state

        return loop_state(self)

    def restore(self, state: Mapping[str, Any]) -> None:
        from quantgate.engine.checkpoint import restore_loop_state

        restore_loop_state(self, state)


def _exact_weight(weight: float) -> Decimal:
    """A target weight as the Decimal of its shortest repr (the figure the allocator meant)."""
    if weight == 0:
        # 0.0 and -0.0 would share a cache entry but not a Decimal: the sign reaches the target.
        return Decimal(repr(weight))
    return _exact_nonzero_weight(weight)


@lru_cache(maxsize=256)
def _exact_nonzero_weight(weight: float) -> Decimal:
    # Equal shares repeat across symbols and decisions (1/N of equity each), and the repr
    # of a float such as 1/3 costs more than the sizing it feeds: converted once each.
    return Decimal(repr(weight))


def _never_sent(child: ChildOrder, result: GatewayResult, at: datetime) -> OrderEnded:
    """The end of a child the risk gate denied, or the venue rejected or the open circuit
    refused on submit."""
    if result.status is SubmitStatus.DENIED:
        reason = f"denied: {result.deny_reason.value if result.deny_reason else 'denied'}"
    else:
        reason = result.status.value
    order = child.order
    return OrderEnded(
        child.client_order_id, order.instrument.symbol, order.side, order.quantity, reason, at
    )


def _toward_zero(quantity: Decimal, lot: Decimal) -> Decimal:
    return (quantity / lot).to_integral_value(rounding=ROUND_DOWN) * lot


def _causes_by_symbol(batch: Sequence[Signal]) -> dict[str, tuple[str, ...]]:
    """Per symbol, the strategies with a signal for it in this decision's batch, in order."""
    causes: dict[str, tuple[str, ...]] = {}
    for signal in batch:
        names = causes.get(signal.symbol, ())
        if signal.strategy not in names:
            causes[signal.symbol] = (*names, signal.strategy)
    return causes


def _horizons(active: Sequence[Signal], batch: Sequence[Signal]) -> dict[str, Horizon]:
    """Per symbol, the horizon of its strongest active signal, else of this batch's exit."""
    chosen: dict[str, Horizon] = {}
    for signal in batch:
        if signal.is_exit:
            chosen[signal.symbol] = signal.horizon
    strongest: dict[str, Signal] = {}
    for signal in active:
        best = strongest.get(signal.symbol)
        if best is None or signal.strength > best.strength:
            strongest[signal.symbol] = signal
    chosen.update({symbol: signal.horizon for symbol, signal in strongest.items()})
    return chosen
