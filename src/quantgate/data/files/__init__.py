"""File sources: bars and texts from local files (a file or a folder), validated before use.

Bars: generic OHLCV tables (CSV, TSV, JSON, JSON lines, Parquet, Feather; plain,
.gz or single-file .zip), Binance public-data kline CSVs, freqtrade candle files.
Texts: generic posts/comments tables, reddit exports, news exports with tickers.
`import_path` validates everything, then writes through data.ingest.
"""

from quantgate.data.files.bars import BarFile, read_bar_file
from quantgate.data.files.formats import MARKET_FORMATS, TEXT_FORMATS, FileFormat
from quantgate.data.files.importer import ImportCounts, ImportResult, import_path
from quantgate.data.files.source import FileMarketSource, FileTextSource, default_source_name
from quantgate.data.files.symbols import DEFAULT_SYMBOL_MAP, SymbolMap
from quantgate.data.files.texts import TextFile, UnmappedTexts, read_text_file

__all__ = [
    "DEFAULT_SYMBOL_MAP",
    "MARKET_FORMATS",
    "TEXT_FORMATS",
    "BarFile",
    "FileFormat",
    "FileMarketSource",
    "FileTextSource",
    "ImportCounts",
    "ImportResult",
    "SymbolMap",
    "TextFile",
    "UnmappedTexts",
    "default_source_name",
    "import_path",
    "read_bar_file",
    "read_text_file",
]
