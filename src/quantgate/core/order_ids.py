"""The layout of quantgate's client order ids, shared by the execution layer that makes
them and the risk gate that reads them.

"qg", 27 hexadecimal characters naming the intent, then 3 naming the slice: 32
characters, within every venue's limit (Binance allows 36, OKX 32) and alphanumeric
(as OKX wants). The slices of one intent share everything but the last characters,
which is how the gate tells a plan's slices (the same order, by design) from a
duplicate.
"""

from __future__ import annotations

from quantgate.core.errors import ProgrammerError

CLIENT_ORDER_ID_PREFIX = "qg"
INTENT_HASH_CHARS = 27
SLICE_CHARS = 3
MAX_SLICE_INDEX = 16**SLICE_CHARS - 1
CLIENT_ORDER_ID_LENGTH = len(CLIENT_ORDER_ID_PREFIX) + INTENT_HASH_CHARS + SLICE_CHARS


def client_order_id(intent_digest: str, slice_index: int) -> str:
    """The id of slice `slice_index` of the intent whose hex digest is `intent_digest`."""
    if not 0 <= slice_index <= MAX_SLICE_INDEX:
        raise ProgrammerError(f"slice index {slice_index} outside 0..{MAX_SLICE_INDEX}")
    intent = intent_digest[:INTENT_HASH_CHARS]
    return f"{CLIENT_ORDER_ID_PREFIX}{intent}{slice_index:0{SLICE_CHARS}x}"


def intent_part(client_order_id: str) -> str | None:
    """What names the order's intent in its id, shared by every slice of that intent; None
    for an id of another layout, which has no siblings."""
    if len(client_order_id) != CLIENT_ORDER_ID_LENGTH or not client_order_id.startswith(
        CLIENT_ORDER_ID_PREFIX
    ):
        return None
    return client_order_id[:-SLICE_CHARS]
