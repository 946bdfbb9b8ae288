"""Route-target names, their validation, and the auto-allocator.

Auto route targets are `target:<ASN>:<n>`, n the lowest free number from 8000000
(2-byte ASN, pool 2^24) or 8000 (4-byte ASN, up to 32767), one per owner: every
routing instance except ip-fabric's `__default__` and link-local, and every logical
router. An allocation, once made, is kept for as long as its owner lives; it is
persisted in the route-target object itself (annotation `filament.compiler/owner`)
so a restarted compiler reads it back instead of renumbering.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable, Mapping

from filament.compiler.model import CREATOR, OWNER_KEY, fq_str


def auto_range(asn: int, four_byte: bool = False) -> tuple[int, int]:
    """[first, last] auto-allocated numbers for this global ASN (cfgm_common)."""
    if asn > 0xFFFF or four_byte:
        return 8000, 8000 + 2 ** 15 - 1
    return 8000000, 8000000 + 2 ** 24 - 1


def reserved_window(asn: int, four_byte: bool = False) -> tuple[int, int]:
    """Numbers a user may not configure with the global ASN (API server check)."""
    if asn > 0xFFFF or four_byte:
        return 8000, 32768
    return 8000000, 16777216


def name(asn: int, number: int) -> str:
    return f"target:{asn}:{number}"


def parse(target: str) -> tuple[str, int] | None:
    """`target:<asn>:<n>`, `target:<ip>:<n>`, `target:<asn>L:<n>` -> (admin, n)."""
    parts = target.split(":") if isinstance(target, str) else []
    if len(parts) != 3 or parts[0] != "target":
        return None
    admin, num = parts[1], parts[2]
    if not num.isdigit():
        return None
    n = int(num)
    if admin.isdigit():
        asn = int(admin)
        if not 0 <= asn <= 0xFFFF and n > 0xFFFF:
            return None
        if asn > 0xFFFFFFFF or n > 0xFFFFFFFF:
            return None
        return admin, n
    if admin.endswith("L") and admin[:-1].isdigit():
        return (admin, n) if int(admin[:-1]) <= 0xFFFFFFFF and n <= 0xFFFF else None
    try:
        ipaddress.IPv4Address(admin)
    except ValueError:
        return None
    return (admin, n) if n <= 0xFFFF else None


def check_user_target(target: str, asn: int, four_byte: bool = False) -> str | None:
    """Why a configured route target cannot be used, or None when it can."""
    parsed = parse(target)
    if parsed is None:
        return f"route target {target!r} is not target:<asn>:<n> or target:<ip>:<n>"
    admin, n = parsed
    lo, hi = reserved_window(asn, four_byte)
    if admin == str(asn) and lo <= n <= hi:
        return (f"route target {target} conflicts with the auto-allocated range "
                f"{lo}..{hi} of the global ASN {asn}")
    return None


def owner_of(rt_obj: Mapping) -> str | None:
    """The owner recorded on a route-target object we created, if any."""
    if (rt_obj.get("id_perms") or {}).get("creator") != CREATOR:
        return None
    for kv in ((rt_obj.get("annotations") or {}).get("key_value_pair") or []):
        if isinstance(kv, dict) and kv.get("key") == OWNER_KEY:
            return kv.get("value")
    return None


def recover(rt_objects: Iterable[Mapping], asn: int, four_byte: bool = False) -> dict[str, int]:
    """Allocations persisted in route-target objects: owner -> number (lowest wins)."""
    lo, hi = auto_range(asn, four_byte)
    out: dict[str, int] = {}
    for obj in rt_objects:
        owner = owner_of(obj)
        parsed = parse(fq_str(obj.get("fq_name") or []))
        if owner is None or parsed is None or parsed[0] != str(asn) or not lo <= parsed[1] <= hi:
            continue
        if owner not in out or parsed[1] < out[owner]:
            out[owner] = parsed[1]
    return out


class Allocator:
    """Lowest-free numbering, stable per owner."""

    def __init__(self, first: int, last: int, allocations: Mapping[str, int] | None = None,
                 reserved: Iterable[int] = ()):
        self.first, self.last = first, last
        self.by_owner: dict[str, int] = {}
        self.by_number: dict[int, str] = {}
        self._used: set[int] = set()
        self.reserved: set[int] = set(reserved)
        for owner, n in sorted((allocations or {}).items(), key=lambda kv: kv[1]):
            if first <= n <= last and n not in self._used:
                self._take(owner, n)
        self._high = max(self._used, default=first - 1) + 1
        self._free = [n for n in range(first, self._high) if n not in self._used]
        heapq.heapify(self._free)

    def allocate(self, owner: str) -> int | None:
        if owner in self.by_owner:
            return self.by_owner[owner]
        while self._free:
            n = heapq.heappop(self._free)
            if n not in self._used and n not in self.reserved:
                return self._take(owner, n)
        while self._high <= self.last:
            n = self._high
            self._high += 1
            if n not in self._used and n not in self.reserved:
                return self._take(owner, n)
        return None

    def _take(self, owner: str, n: int) -> int:
        self.by_owner[owner] = n
        self.by_number[n] = owner
        self._used.add(n)
        return n

    def free(self, owner: str) -> None:
        n = self.by_owner.pop(owner, None)
        if n is not None:
            self.by_number.pop(n, None)
            self._used.discard(n)
            heapq.heappush(self._free, n)

    def reserve(self, numbers: Iterable[int]) -> None:
        """Numbers taken by route-target objects someone else created."""
        new = set(numbers)
        for n in self.reserved - new:
            if n < self._high and n not in self._used:
                heapq.heappush(self._free, n)
        self.reserved = new
