"""Lowest-free integer allocation over a set of used ids (VN ids, SG ids, tag ids)."""

from __future__ import annotations


class IdPool:
    def __init__(self, first: int, last: int):
        self.first = first
        self.last = last
        self.used: dict[int, int] = {}     # id -> number of holders
        self._hint = first

    def add(self, n: int) -> None:
        self.used[n] = self.used.get(n, 0) + 1

    def remove(self, n: int) -> None:
        c = self.used.get(n, 0)
        if c <= 1:
            self.used.pop(n, None)
            if n < self._hint:
                self._hint = max(self.first, n)
        else:
            self.used[n] = c - 1

    def lowest_free(self, taken: set[int] | frozenset[int] = frozenset()) -> int | None:
        n = max(self._hint, self.first)
        while n <= self.last and (n in self.used or n in taken):
            n += 1
        if not taken:
            self._hint = n
        return n if n <= self.last else None

    def clear(self) -> None:
        self.used.clear()
        self._hint = self.first
