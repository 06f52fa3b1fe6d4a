"""Finding duplicate records in one pass, in little memory.

Records are not kept: each is reduced to 64-bit hashes (Python's ``hash`` of the field strings),
stored with the index of the first record that had them in an open-addressing table made of flat
arrays (20 bytes a slot, at most half full: ~40 MB for a million distinct prompts, against ~200 MB
for dicts of ints). Two distinct records share a 64-bit hash with a probability of
about n²/2⁶⁵ (3·10⁻⁸ for a million records); such a collision would be reported as a duplicate.
"""

from __future__ import annotations

from array import array

_INITIAL = 1 << 12


class Duplicates:
    """Reports, for each record, the earlier record it repeats (fully, or in its prompt only).

    One table keyed by the prompt (instruction and input) holds the first index and the hash of its
    output: one probe per record. Prompts seen again with another output go to a small dict keyed by
    the whole record, so that a repeat of such a record is still named exactly.
    """

    __slots__ = ("keys", "outputs", "values", "mask", "used", "others")

    def __init__(self) -> None:
        self.keys = array("q", bytes(8 * _INITIAL))
        self.outputs = array("q", bytes(8 * _INITIAL))
        self.values = array("I", bytes(4 * _INITIAL))
        self.mask = _INITIAL - 1
        self.used = 0
        self.others: dict[int, int] = {}

    @property
    def nbytes(self) -> int:
        return 20 * len(self.keys) + 100 * len(self.others)

    def reserve(self, records: int) -> None:
        """Make room for about ``records`` distinct prompts at once (growing rehashes in Python, slowly)."""
        size = len(self.keys)
        while size < 2 * records + 2:
            size <<= 1
        if size > len(self.keys):
            self._grow(size)

    def see(
        self, index: int, instruction: str, input: str, output: str, line: int | None = None, clean: bool = True
    ) -> tuple[str, int] | None:
        """``("duplicate-record", first)``, ``("duplicate-prompt", first)`` or None for a new record.

        ``line`` and ``clean`` (the record has no other issue) are for recorders that judge later.
        """
        return self.see_hashes(index, hash((instruction, input)) or 1, hash(output))

    def see_hashes(self, index: int, prompt: int, answer: int) -> tuple[str, int] | None:
        """`see` for a record already reduced to the hashes of its prompt (non-zero) and its output."""
        keys, mask = self.keys, self.mask
        slot = prompt & mask
        found = keys[slot]
        while found:
            if found == prompt:
                first = self.values[slot]
                if self.outputs[slot] == answer:
                    return "duplicate-record", first
                whole = hash((prompt, answer))
                earlier = self.others.setdefault(whole, index)
                if earlier != index:
                    return "duplicate-record", earlier
                return "duplicate-prompt", first
            slot = (slot + 1) & mask
            found = keys[slot]
        keys[slot] = prompt
        self.outputs[slot] = answer
        self.values[slot] = index
        self.used += 1
        if self.used * 2 > mask:
            self._grow(2 * len(keys))
        return None

    def _grow(self, size: int) -> None:
        old = zip(self.keys, self.outputs, self.values)
        keys = self.keys = array("q", bytes(8 * size))
        outputs = self.outputs = array("q", bytes(8 * size))
        values = self.values = array("I", bytes(4 * size))
        mask = self.mask = size - 1
        for key, output, value in old:
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                outputs[slot] = output
                values[slot] = value
