"""Finding duplicate records in one pass, in little memory.

Records are not kept: each is reduced to a 64-bit hash (Python's ``hash`` of the field strings)
stored with the index of the first record that had it, in an open-addressing table made of two
flat arrays (12 bytes a slot, at most half full: ~24 MB for a million distinct records, against
~100 MB for a dict of ints). Two distinct records share a 64-bit hash with a probability of about
n²/2⁶⁵ (3·10⁻⁸ for a million records); such a collision would be reported as a duplicate.
"""

from __future__ import annotations

from array import array

_EMPTY = 0


class FirstSeen:
    """A map from a 64-bit hash to the first index seen with it."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        size = 1
        while size < capacity:
            size <<= 1
        self._keys = array("q", bytes(8 * size))
        self._values = array("I", bytes(4 * size))
        self._mask = size - 1
        self._used = 0

    def __len__(self) -> int:
        return self._used

    @property
    def nbytes(self) -> int:
        return self._keys.itemsize * len(self._keys) + self._values.itemsize * len(self._values)

    def setdefault(self, key: int, index: int) -> int:
        """The index stored for ``key``; stores ``index`` first when the key is new."""
        if key == _EMPTY:
            key = 1
        keys = self._keys
        mask = self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                return self._values[slot]
            if found == _EMPTY:
                keys[slot] = key
                self._values[slot] = index
                self._used += 1
                if self._used * 2 > mask:
                    self._grow()
                return index
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = (self._mask + 1) * 2
        self._keys = array("q", bytes(8 * size))
        self._values = array("I", bytes(4 * size))
        self._mask = size - 1
        keys, values, mask = self._keys, self._values, self._mask
        for key, value in zip(old_keys, old_values):
            if key != _EMPTY:
                slot = key & mask
                while keys[slot] != _EMPTY:
                    slot = (slot + 1) & mask
                keys[slot] = key
                values[slot] = value


class Duplicates:
    """Reports, for each record, the earlier record it repeats (fully, or in its prompt only)."""

    def __init__(self) -> None:
        self._records = FirstSeen()
        self._prompts = FirstSeen()

    @property
    def nbytes(self) -> int:
        return self._records.nbytes + self._prompts.nbytes

    def see(self, index: int, instruction: str, input: str, output: str) -> tuple[str, int] | None:
        """``("duplicate-record", first)``, ``("duplicate-prompt", first)`` or None for a new record."""
        first = self._records.setdefault(hash((instruction, input, output)), index)
        if first != index:
            return "duplicate-record", first
        first = self._prompts.setdefault(hash((instruction, input)), index)
        if first != index:
            return "duplicate-prompt", first
        return None
