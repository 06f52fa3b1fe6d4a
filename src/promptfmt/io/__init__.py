"""Reading and writing datasets: items and blocks, layout sniffing, the JSON Lines, window and array
readers, byte ranges for parallel work, atomic writers and the JSON encoder.

The modules, from the bottom up: `items` (`Item`, `Block`, the decoder), `jsonl`, `window` and
`arrays` (the three readers), `paths` (input and output checks), `reader` (`DatasetReader`: sniffs
the layout and picks a reader), `ranges` (cutting a file into parts), `jsonout`, `atomic` and `writers`.
"""

from .atomic import AtomicWriter
from .items import DECODE_ERRORS, INVALID_JSON, STDIN, UNREADABLE, Block, Item, Source, decode, duplicate_keys
from .jsonl import blocks_of, odd_item, undecodable
from .limits import limits
from .paths import STDOUT, open_input, refuse_overwrite, require_input, same_file
from .reader import ARRAY, DOCUMENTS, JSONL, NONE, DatasetReader, input_unit, open_binary, read_items
from .writers import (
    ARROW_OUT,
    JSON_OUT,
    JSONL_OUT,
    OUTPUT_FORMATS,
    PARQUET_OUT,
    ItemSink,
    QuarantineWriter,
    open_output,
    open_outputs,
    output_format,
)

__all__ = [
    "ARRAY",
    "DECODE_ERRORS",
    "DOCUMENTS",
    "INVALID_JSON",
    "JSONL",
    "NONE",
    "STDIN",
    "STDOUT",
    "UNREADABLE",
    "ARROW_OUT",
    "AtomicWriter",
    "Block",
    "DatasetReader",
    "Item",
    "ItemSink",
    "JSON_OUT",
    "JSONL_OUT",
    "OUTPUT_FORMATS",
    "PARQUET_OUT",
    "QuarantineWriter",
    "Source",
    "blocks_of",
    "decode",
    "input_unit",
    "limits",
    "duplicate_keys",
    "odd_item",
    "open_binary",
    "open_input",
    "open_output",
    "open_outputs",
    "output_format",
    "read_items",
    "refuse_overwrite",
    "require_input",
    "same_file",
    "undecodable",
]
