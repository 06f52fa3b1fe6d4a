"""Writing a ``datasets.save_to_disk`` folder: an Arrow IPC stream file, ``state.json`` and
``dataset_info.json``, which ``datasets.load_from_disk`` loads and promptfmt reads back exactly
(the `promptfmt.io.columns.Footer` travels in the Arrow schema's metadata).

The folder is built inside a locked scratch folder (`promptfmt.scratch`) next to the target and
renamed into place when complete; an existing dataset folder there is replaced only then. A run
killed outright leaves the scratch folder, which the next run writing beside it removes.
"""

from __future__ import annotations

import os
import secrets
from typing import IO, Any

from ..errors import OutputError
from ..scratch import ScratchFolder, sweep
from .columns import FOOTER_KEY
from .jsonout import encode

DATA_FILE = "data-00000-of-00001.arrow"
BATCH_ROWS = 1000  # rows per record batch, as datasets writes them
STATE_FILE = "state.json"
INFO_FILE = "dataset_info.json"


class DatasetFolder:
    """The target folder of a ``save_to_disk`` output, staged and then renamed into place."""

    def __init__(self, path: str, option: str = "--output") -> None:
        self.name = path
        target = os.path.abspath(path)
        parent = os.path.dirname(target)
        if os.path.lexists(target) and not _replaceable(target):
            raise OutputError(f"{option} {path} exists and is not a datasets folder (no state.json): promptfmt "
                              "replaces only a dataset folder it could have written. Give a new name.")
        self.target = target
        sweep(parent)
        try:
            self._scratch = ScratchFolder(parent)
            self.staging = os.path.join(self._scratch.path, "dataset")
            os.mkdir(self.staging)
        except OSError as exc:
            raise OutputError(f"{option} {path}: cannot create a folder beside it ({exc.strerror or exc}).") from None

    def commit(self) -> None:
        """Put the finished folder in place (an older dataset folder there is removed after)."""
        old = os.path.join(self._scratch.path, "old")
        if os.path.lexists(self.target):
            os.rename(self.target, old)
        os.rename(self.staging, self.target)
        self._scratch.remove()

    def abort(self) -> None:
        self._scratch.remove()


def _replaceable(target: str) -> bool:
    return os.path.isdir(target) and not os.path.islink(target) and (
        not os.listdir(target) or os.path.isfile(os.path.join(target, STATE_FILE)))


def write_folder(pa: Any, parquet: IO[bytes], folder: str, footer: bytes) -> None:
    """Write the rows of the Parquet file ``parquet`` as a ``save_to_disk`` folder in ``folder``."""
    parquet.seek(0)
    source = pa.parquet.ParquetFile(parquet)
    schema = source.schema_arrow.with_metadata({FOOTER_KEY: footer})
    with pa.OSFile(os.path.join(folder, DATA_FILE), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for number in range(source.num_row_groups):
            table = source.read_row_group(number).replace_schema_metadata(schema.metadata)
            writer.write_table(table, max_chunksize=BATCH_ROWS)
    state: dict[str, Any] = {
        "_data_files": [{"filename": DATA_FILE}], "_fingerprint": secrets.token_hex(8), "_format_columns": None,
        "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False, "_split": None,
    }
    _write(os.path.join(folder, STATE_FILE), encode(state))
    _write(os.path.join(folder, INFO_FILE), b"{}")  # features: datasets reads them off the Arrow schema


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)
