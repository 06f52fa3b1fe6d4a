"""Field mapping: reading the record fields from keys that a dataset names differently.

``--map output=response`` reads ``output`` from the key ``response``; named profiles bundle the
mappings of common layouts (``--profile dolly`` = ``input=context``, ``output=response``). A key
that is read into a field is consumed: it is not also metadata. Keys that are not mapped stay
metadata, in their original order, except a key named like a record field whose field is read from
elsewhere (``output`` when ``output=response``): it is reported (``shadowed``), never used silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..models import RECORD_FIELDS


class MappingError(UsageError):
    """A ``--map`` or ``--profile`` that cannot be used (the CLI reports it as a usage error)."""


@dataclass(frozen=True)
class Profile:
    """A named field layout: which key each record field is read from."""

    name: str
    sources: Mapping[str, str]
    description: str


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("alpaca", {}, "instruction / input / output (Stanford Alpaca and most instruction sets; the default)"),
        Profile("dolly", {"input": "context", "output": "response"},
                "instruction / context / response (databricks-dolly-15k; category stays metadata)"),
        Profile("prompt-completion", {"instruction": "prompt", "output": "completion"},
                "prompt / completion (OpenAI legacy fine-tuning files)"),
        Profile("prompt-response", {"instruction": "prompt", "output": "response"}, "prompt / response"),
        Profile("question-answer", {"instruction": "question", "output": "answer"},
                "question / answer (GSM8K and many QA sets)"),
        Profile("query-response", {"instruction": "query", "output": "response"}, "query / response (MetaMathQA)"),
        Profile("inputs-targets", {"instruction": "inputs", "output": "targets"}, "inputs / targets (xP3, FLAN)"),
        Profile("instruction-response", {"output": "response"}, "instruction / input / response"),
    )
}


@dataclass(frozen=True)
class FieldMapping:
    """Record field -> key in the dataset, for the fields read from another key than their own name."""

    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sources = {target: key for target, key in self.sources.items() if target != key}
        for target in sources:
            if target not in RECORD_FIELDS:
                raise MappingError(f"cannot map {target!r}: the record fields are {', '.join(RECORD_FIELDS)}")
        keys = list(sources.values())
        for key in keys:
            if keys.count(key) > 1:
                targets = [t for t, k in sources.items() if k == key]
                raise MappingError(f"the key {key!r} is mapped to more than one field ({', '.join(targets)})")
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "_consumed", frozenset(keys))
        object.__setattr__(self, "_plan", tuple((f, sources.get(f, f)) for f in RECORD_FIELDS))

    @classmethod
    def build(cls, profile: str | None = None, maps: Iterable[str] | Mapping[str, str] = ()) -> FieldMapping:
        """The mapping of a profile, overridden by ``FIELD=KEY`` strings (or a dict) given one by one."""
        sources: dict[str, str] = {}
        if profile is not None:
            if profile not in PROFILES:
                known = ", ".join(PROFILES)
                raise MappingError(f"unknown profile {profile!r}; the profiles are: {known}")
            sources.update(PROFILES[profile].sources)
        pairs = maps.items() if isinstance(maps, Mapping) else (parse_map(text) for text in maps)
        for target, key in pairs:
            sources[target] = key
        return cls(sources)

    @property
    def identity(self) -> bool:
        return not self.sources

    def key(self, field: str) -> str:
        """The key that ``field`` is read from."""
        return self.sources.get(field, field)

    def apply(self, value: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The item seen with record field names, and the keys left out as shadowed.

        Record fields come first (those present), then the metadata in its original order.
        """
        view = {target: value[key] for target, key in self._plan if key in value}  # type: ignore[attr-defined]
        shadowed: list[str] = []
        consumed = self._consumed  # type: ignore[attr-defined]
        for key, item in value.items():
            if key in consumed:
                continue
            if key in RECORD_FIELDS:
                if key in self.sources:
                    shadowed.append(key)
                continue
            view[key] = item
        return view, shadowed

    def shadowed(self, value: dict[str, Any]) -> list[str]:
        """The keys of ``value`` that `apply` leaves out: named like a record field whose field is
        read from another key (``output`` with ``--map output=response``)."""
        consumed = self._consumed  # type: ignore[attr-defined]
        return [key for key in value if key in self.sources and key not in consumed]


def parse_map(text: str) -> tuple[str, str]:
    """``"output=response"`` -> ``("output", "response")``; keys may contain spaces and ``=``."""
    target, sep, key = text.partition("=")
    target = target.strip()
    if not sep or not key:
        raise MappingError(f"--map expects FIELD=KEY (for example output=response), got {text!r}")
    if target not in RECORD_FIELDS:
        raise MappingError(f"--map {text!r}: {target!r} is not a record field; use one of {', '.join(RECORD_FIELDS)}")
    return target, key
