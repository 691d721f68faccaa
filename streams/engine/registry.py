"""The processor registry: ONE line per processor. The conformance suite runs for every entry."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from streams.engine.processor import Processor


class Registry:
    def __init__(self, processors: Iterable[Processor[Any]]) -> None:
        self._by_type: dict[str, Processor[Any]] = {}
        for p in processors:
            if p.entity_type in self._by_type:
                raise ValueError(f"two processors registered for {p.entity_type!r}")
            self._by_type[p.entity_type] = p

    def get(self, entity_type: str) -> Processor[Any] | None:
        return self._by_type.get(entity_type)

    def __iter__(self) -> Iterator[Processor[Any]]:
        return iter(self._by_type.values())

    def __len__(self) -> int:
        return len(self._by_type)
