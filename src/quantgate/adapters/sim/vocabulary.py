"""The words of the synthetic social feed: phrasings by tone, and the pool of authors.

`{T}` stands for a way of naming the coin (ticker, cashtag or name) and `{P}`
for a price. Bullish and bearish phrasings use the words a reader would expect
(buy, rally, green, strong / sell, dump, red, weak), so the tone is there for a
text model to find; neutral phrasings carry neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from quantgate.adapters.sim.randomness import hashed_uniforms, stream_key
from quantgate.core.errors import ProgrammerError

BULLISH, BEARISH, NEUTRAL = 0, 1, 2
TONES = (BULLISH, BEARISH, NEUTRAL)

TITLES: dict[int, tuple[str, ...]] = {
    BULLISH: (
        "{T} breaking out?",
        "Why I'm loading up on {T}",
        "{T} is about to send it",
        "Bullish on {T} this week",
        "{T} looks ready for a leg up",
        "Accumulating more {T} on every dip",
        "{T} chart is screaming buy",
        "Is {T} the best buy right now?",
        "{T} momentum is building",
        "Massive green candle on {T}",
        "{T} to new highs soon",
        "Just bought a bag of {T}",
        "{T} buyers stepping in hard",
        "Higher lows on {T}, bullish",
        "Long {T}, here's my thesis",
        "{T} rally is just getting started",
    ),
    BEARISH: (
        "{T} is about to dump",
        "Taking profits on {T}",
        "{T} breakdown incoming",
        "Bearish on {T} for now",
        "Why I sold all my {T}",
        "{T} looks weak here",
        "Is the {T} pump over?",
        "{T} losing key support",
        "Shorting {T} into this bounce",
        "{T} sellers in control",
        "Red flags on {T}",
        "{T} could crash another 20%",
        "Lower highs on {T}, be careful",
        "{T} bulls are trapped",
        "Exited my {T} position, too weak",
        "{T} sell-off is just getting started",
    ),
    NEUTRAL: (
        "{T} daily discussion",
        "Thoughts on {T}?",
        "{T} news roundup",
        "Question about {T} staking",
        "Where do you store your {T}?",
        "{T} weekly thread",
        "New to {T}, any tips?",
        "{T} fees explained",
        "What's the real use case of {T}?",
        "{T} chart for today",
        "Anyone following the {T} dev updates?",
        "{T} vs the rest of the market",
        "How do you track your {T} cost basis?",
        "{T} governance vote this month",
    ),
}

SENTENCES: dict[int, tuple[str, ...]] = {
    BULLISH: (
        "{T} looks strong here.",
        "Buyers keep defending every dip.",
        "This breakout on {T} is real.",
        "I'm adding more {T} on weakness in the market.",
        "Volume is picking up and the trend is up.",
        "Higher highs and higher lows, textbook bullish.",
        "Spot is leading the move up, that's healthy.",
        "{T} could easily rally another leg.",
        "Accumulation is obvious on the daily chart.",
        "Whales are buying {T} quietly.",
        "Anyone betting against {T} is about to get squeezed.",
        "I'm bullish and holding every coin.",
        "The real pump hasn't even started yet.",
        "Feels like the bottom is in for {T}.",
        "Momentum is strong, bulls in control.",
        "Every dip gets bought instantly.",
        "I'd be buying {T} with both hands.",
        "This is the calm before a big move up.",
        "Green across the board today.",
        "Sentiment is turning positive fast.",
        "Long term {T} is a screaming buy.",
        "{T} just reclaimed a key level.",
        "Moon mission loading.",
        "Staying long {T}, the setup is great.",
        "Bullish divergence on the RSI.",
        "Great entry if you missed the last rally.",
        "Demand for {T} keeps growing.",
        "The breakout retest held perfectly.",
        "Can't see {T} staying this cheap for long.",
        "Strong hands are accumulating {T}.",
        "Honestly {T} feels unstoppable right now.",
        "Bought more this morning, no regrets.",
    ),
    BEARISH: (
        "{T} looks weak here.",
        "Sellers keep dumping every bounce.",
        "This rally on {T} is a trap.",
        "I'm selling my {T} into any strength.",
        "Volume is drying up and the trend is down.",
        "Lower highs and lower lows, textbook bearish.",
        "Leverage is overheated, a flush is coming.",
        "{T} could easily drop another leg.",
        "Distribution is obvious on the daily chart.",
        "Whales are dumping {T} on retail.",
        "Longs are going to get liquidated.",
        "I'm bearish and sitting in stables.",
        "The real crash hasn't even started yet.",
        "Feels like the top is in for {T}.",
        "Momentum is fading, bears in control.",
        "Every bounce gets sold instantly.",
        "I wouldn't touch {T} right now.",
        "This is the calm before a big move down.",
        "Red across the board today.",
        "Sentiment is turning negative fast.",
        "Long term {T} looks like a sell.",
        "{T} just lost a key level.",
        "Looks like another dump is coming.",
        "Staying short {T}, the setup is ugly.",
        "Bearish divergence on the RSI.",
        "Terrible risk reward at these prices.",
        "Demand for {T} keeps shrinking.",
        "The breakdown retest got rejected hard.",
        "{T} is still overvalued after this drop.",
        "Weak hands are panic selling and it isn't over.",
        "Honestly {T} feels heavy right now.",
        "Sold the rest this morning, no regrets.",
    ),
    NEUTRAL: (
        "Not sure where {T} goes from here.",
        "Just watching for now.",
        "Anyone know when the next upgrade ships?",
        "I use {T} mostly for transfers.",
        "The chart is choppy, no clear direction.",
        "Waiting for more data before I decide.",
        "Range bound for days now.",
        "What exchange has the lowest fees for {T}?",
        "Read the whitepaper last night, interesting design.",
        "I'm holding the same amount as last month.",
        "Could go either way honestly.",
        "The news today didn't change much.",
        "Sideways action on {T} again.",
        "I set alerts and walked away.",
        "Curious what everyone's timeframe is.",
        "Has anyone tried staking {T}?",
        "Volatility has been pretty normal.",
        "Nothing new under the sun.",
        "Still learning how the {T} ecosystem works.",
        "Keeping my position size small.",
        "Tax season makes this complicated.",
        "Interesting discussion in the dev channel.",
        "I track {T} but rarely trade it.",
        "Let's see what the weekly close says.",
        "Mixed signals everywhere.",
        "Price is just hovering around the average.",
        "Good explainer thread on {T} yesterday.",
        "No strong opinion on {T} this week.",
    ),
}

# A price sentence: bullish ones quote a level above the current price, bearish ones
# a level below, neutral ones the current price.
PRICE_SENTENCES: dict[int, tuple[str, ...]] = {
    BULLISH: (
        "Next target is {P}.",
        "I can see us at {P} soon.",
        "A clean break gets us to {P}.",
        "Took a long with a target of {P}.",
        "{P} is the obvious next stop.",
        "Calling {P} before the month is out.",
    ),
    BEARISH: (
        "Support at {P} is the next stop down.",
        "I expect a drop back to {P}.",
        "Looking for a flush to {P}.",
        "Shorted with a target of {P}.",
        "{P} is where this ends up.",
        "Calling {P} before any real bounce.",
    ),
    NEUTRAL: (
        "Trading around {P} right now.",
        "Sitting near {P} at the moment.",
        "Price check: {P}.",
        "Current level is roughly {P}.",
        "Last I looked it was {P}.",
    ),
}

OPENERS: tuple[str, ...] = (
    "Agreed.",
    "Hmm.",
    "Fair point.",
    "This.",
    "Not sure about that.",
    "Interesting take.",
    "Lol.",
    "100%.",
    "Good post.",
    "Respectfully disagree.",
    "Came here to say this.",
    "Big if true.",
    "Thanks for sharing.",
    "Wait, what?",
    "Same here.",
    "Underrated comment.",
    "Okay but hear me out.",
    "Saving this thread.",
)

CLOSERS: tuple[str, ...] = (
    "NFA.",
    "DYOR.",
    "Just my two cents.",
    "Thoughts?",
    "Not financial advice.",
    "We'll see.",
    "Time will tell.",
    "Stay safe out there.",
    "Change my mind.",
    "Curious what you all think.",
    "Zoom out.",
)

_ADJECTIVES = (
    "quiet", "lucky", "brave", "sleepy", "salty", "crypto", "degen", "based", "diamond",
    "paper", "moon", "chart", "rekt", "hodl", "alpha", "silent", "wild", "lazy", "cosmic",
    "golden", "frozen", "rapid", "humble", "stoic", "midnight", "tiny", "mega", "sneaky",
    "honest", "bold", "calm", "grumpy", "jolly", "nimble", "retro", "solar", "turbo", "zen",
)  # fmt: skip
_NOUNS = (
    "whale", "trader", "ape", "hodler", "bull", "bear", "satoshi", "miner", "node", "wizard",
    "panda", "tiger", "otter", "falcon", "llama", "penguin", "ninja", "pilot", "sailor",
    "farmer", "monk", "knight", "rocket", "hands", "candle", "wick", "stack", "block",
    "ledger", "validator", "fox", "owl", "wolf", "shark", "gecko", "badger", "raven", "yak",
)  # fmt: skip
AUTHOR_POOL_SIZE = 5000


@dataclass(frozen=True, slots=True)
class Templates:
    """Phrasings split around their one slot marker, grouped by tone, ready for gathering.

    Tone t occupies rows offsets[t] .. offsets[t] + counts[t] - 1.
    """

    before: pl.Series
    after: pl.Series
    has_slot: pl.Series
    offsets: tuple[int, int, int]
    counts: tuple[int, int, int]

    @classmethod
    def build(cls, by_tone: dict[int, tuple[str, ...]], marker: str) -> Templates:
        before, after, has_slot, counts = [], [], [], []
        for tone in TONES:
            counts.append(len(by_tone[tone]))
            for text in by_tone[tone]:
                parts = text.split(marker)
                if len(parts) > 2:
                    raise ProgrammerError(f"template {text!r} has more than one {marker}")
                before.append(parts[0])
                after.append(parts[1] if len(parts) == 2 else "")
                has_slot.append(len(parts) == 2)
        offsets = (0, counts[0], counts[0] + counts[1])
        return cls(
            pl.Series(before, dtype=pl.String),
            pl.Series(after, dtype=pl.String),
            pl.Series(has_slot, dtype=pl.Boolean),
            offsets,
            (counts[0], counts[1], counts[2]),
        )


TITLE_TEMPLATES = Templates.build(TITLES, "{T}")
SENTENCE_TEMPLATES = Templates.build(SENTENCES, "{T}")
PRICE_TEMPLATES = Templates.build(PRICE_SENTENCES, "{P}")
OPENER_SERIES = pl.Series(OPENERS, dtype=pl.String)
CLOSER_SERIES = pl.Series(CLOSERS, dtype=pl.String)


@cache
def author_pool(seed: int) -> pl.Series:
    """AUTHOR_POOL_SIZE usernames, a pure function of the seed (names may repeat)."""
    index = np.arange(AUTHOR_POOL_SIZE, dtype=np.int64)
    key = stream_key(seed, "authors")
    adjective = (hashed_uniforms(key, index, 0) * len(_ADJECTIVES)).astype(int)
    noun = (hashed_uniforms(key, index, 1) * len(_NOUNS)).astype(int)
    number = (hashed_uniforms(key, index, 2) * 100).astype(int)
    style = (hashed_uniforms(key, index, 3) * 4).astype(int)
    names = []
    for a, n, k, s in zip(adjective, noun, number, style, strict=True):
        first, second = _ADJECTIVES[a], _NOUNS[n]
        if s == 0:
            names.append(f"{first}_{second}")
        elif s == 1:
            names.append(f"{first}{second.capitalize()}{k:02d}")
        elif s == 2:
            names.append(f"{second}_{first}{k}")
        else:
            names.append(f"the{second.capitalize()}{first.capitalize()}")
    return pl.Series(names, dtype=pl.String)
