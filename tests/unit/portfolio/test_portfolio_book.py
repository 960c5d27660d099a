import json

from portfolio_inputs import sig

from quantgate.portfolio import SignalBook


def test_keeps_each_strategys_latest_target_and_drops_exits() -> None:
    book = SignalBook()
    book.update([sig("BTCUSDT", 1.0, strategy="momentum"), sig("ETHUSDT", -1.0)])
    book.update([sig("BTCUSDT", 0.5, strategy="momentum"), sig("BTCUSDT", 1.0, strategy="pairs")])
    book.update([sig("ETHUSDT", 0.0)])
    active = book.active()
    assert [(s.strategy, s.symbol, s.target_exposure) for s in active] == [
        ("momentum", "BTCUSDT", 0.5),
        ("pairs", "BTCUSDT", 1.0),
    ]
    assert book.symbols() == ["BTCUSDT"]
    assert len(book) == 2


def test_checkpoint_round_trip() -> None:
    book = SignalBook()
    book.update([sig("BTCUSDT", 1.0, expected_return=0.01), sig("ETHUSDT", -0.3)])
    restored = SignalBook.restore(json.loads(json.dumps(book.checkpoint())))
    assert restored.active() == book.active()
