"""pyarrow, an optional library (``pip install 'promptfmt[parquet]'``): imported when a Parquet or Arrow
file is first read or written, never before, so that JSON work neither needs it nor pays for it."""

from __future__ import annotations

from types import ModuleType

from ..errors import MissingExtraError

EXTRA = "parquet"


def pyarrow() -> ModuleType:
    """The ``pyarrow`` module, or `MissingExtraError` saying what to install."""
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        raise MissingExtraError("pyarrow", "Parquet and Arrow files", EXTRA) from None
    return pyarrow
