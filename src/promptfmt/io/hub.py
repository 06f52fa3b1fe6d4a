"""Datasets named on the Hugging Face Hub, streamed by the optional ``datasets`` library
(``pip install 'promptfmt[hf]'``), imported when such a name is first read, never before.

A name is ``hf://datasets/NAME``, optionally followed by ``?split=SPLIT`` (``train`` by default) and
``name=CONFIG`` (joined by ``&``). NAME goes to ``datasets.load_dataset`` as it is: ``OWNER/NAME`` on
the Hub, or a local folder of data files (``hf://datasets//abs/folder``, ``hf://datasets/./folder``),
which is how a Hub dataset is read offline. Rows come out as items as `promptfmt.io.tables` gives
them (``Item.line`` is the 1-based row number). A Hub that cannot be reached is one `InputPathError`;
a stream that breaks mid-way is one ``unreadable`` item.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import DataError, InputPathError, MissingExtraError, PromptfmtError, one_line
from .items import UNREADABLE, Item, Source
from .tables import BATCH_ROWS, rows_block, table_rows

HUB = "hub"
HUB_PREFIX = "hf://"
DATASETS_PREFIX = "hf://datasets/"
DEFAULT_SPLIT = "train"
EXTRA = "hf"
SYNTAX = "hf://datasets/OWNER/NAME?split=SPLIT&name=CONFIG"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_TRUE = {"1", "ON", "YES", "TRUE"}  # what huggingface_hub reads as set
_NETWORK_NAMES = ("OfflineModeIsEnabled", "ConnectError", "ConnectTimeout", "ReadTimeout", "Timeout")


def is_hub_name(path: str) -> bool:
    """Whether ``path`` names a dataset on the Hub (``hf://…``) rather than a file."""
    return path.startswith(HUB_PREFIX)


@dataclass(frozen=True, slots=True)
class HubName:
    """What an ``hf://datasets/…`` name asks for."""

    dataset: str
    split: str = DEFAULT_SPLIT
    config: str | None = None

    @classmethod
    def parse(cls, path: str) -> HubName:
        """The parts of ``path``; `InputPathError` (a usage error) when it is not such a name."""
        if not path.startswith(DATASETS_PREFIX):
            raise InputPathError(path, f"only datasets are read from the Hub; write {SYNTAX} (split and name optional).")
        dataset, _, query = path[len(DATASETS_PREFIX):].partition("?")
        if not dataset:
            raise InputPathError(path, f"names no dataset; write {SYNTAX} (split and name optional).")
        options: dict[str, str] = {}
        for pair in query.split("&") if query else ():
            key, equals, value = pair.partition("=")
            if key not in ("split", "name") or not equals or not value or key in options:
                raise InputPathError(path, f"{one_line(pair)!r} is not an option of a Hub name; write {SYNTAX} "
                                     "(split and name optional, each once).")
            options[key] = value
        return cls(dataset, options.get("split", DEFAULT_SPLIT), options.get("name"))

    def folder(self) -> str | None:
        """The local folder that NAME is, if it is one."""
        return self.dataset if os.path.isdir(self.dataset) else None


def hub_folder(path: str) -> str | None:
    """The local folder an ``hf://datasets/…`` name reads, None for anything else."""
    try:
        return HubName.parse(path).folder()
    except PromptfmtError:
        return None


def datasets_library() -> ModuleType:
    """The ``datasets`` module, or `MissingExtraError` saying what to install."""
    try:
        return importlib.import_module("datasets")
    except ImportError:
        raise MissingExtraError("datasets", "Hugging Face Hub names (hf://datasets/…)", EXTRA) from None


class HubReader:
    """The rows of one split of a dataset on the Hub (or in a local folder), streamed, as items."""

    kind = HUB

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = Source(path).name
        self.hub = HubName.parse(path)
        self.position = 0  # rows read so far
        library = datasets_library()
        try:
            self._dataset: Any = library.load_dataset(
                self.hub.dataset, self.hub.config, split=self.hub.split, streaming=True)
        except Exception as exc:  # datasets' and the network's own errors: the input's problem, named
            raise _load_error(self.path, exc) from None
        self.rows = _row_count(self._dataset, self.hub.split)

    def close(self) -> None:
        """Nothing to close: the stream ends with its iterator."""

    def __iter__(self) -> Iterator[Item]:
        index = 0
        try:
            for table in self._dataset.with_format("arrow").iter(batch_size=BATCH_ROWS):
                rows = table_rows(table)
                block = rows_block(rows, index + 1)
                for row in rows:
                    yield Item(index, index + 1, row, block=block)
                    index += 1
                self.position = index
        except Exception as exc:  # a connection lost, a data file datasets cannot parse: the rest is unread
            yield Item(index, index + 1, code=UNREADABLE, error=(
                f"the dataset cannot be read from row {index + 1:,} on ({_reason(exc)}); the rest of it was not "
                "checked. Check the connection and run again, or download its files and pass them."))


def offline() -> bool:
    """Whether the environment asks huggingface_hub and datasets not to use the network."""
    return any(os.environ.get(name, "").upper() in _TRUE for name in OFFLINE_VARIABLES)


def _load_error(path: str, exc: Exception) -> PromptfmtError:
    reason = _reason(exc)
    if _network(exc):
        why = "offline mode: HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set" if offline() else reason
        return InputPathError(path, f"the Hugging Face Hub cannot be reached ({why}). Download the dataset's files "
                              "and pass them (a file, or their folder as hf://datasets//path/to/folder), or go online.")
    if isinstance(exc, FileNotFoundError):
        return InputPathError(path, f"not found: {reason}. Check the name (a private or gated dataset needs hf auth login).")
    if isinstance(exc, ValueError):  # an unknown split or config, among others
        return InputPathError(path, f"{reason}. Choose them as in {SYNTAX}.")
    return DataError(path, f"cannot be loaded by datasets: {reason}")


def _network(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the network or the Hub could not be reached."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in _NETWORK_NAMES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _row_count(dataset: Any, split: str) -> int | None:
    """The number of rows the dataset's card declares for ``split``, when it declares one."""
    try:
        return int(dataset.info.splits[split].num_examples) or None
    except Exception:  # no card, no such split in it, or another shape: the count is unknown
        return None


def _reason(exc: BaseException) -> str:
    lines = (str(exc) or type(exc).__name__).strip().splitlines()
    return one_line(lines[0] if lines else type(exc).__name__).rstrip(".")
