"""Converge a datapath backend to a desired state (synchronous; run it in a worker thread).

Each pass observes what the backend owns, diffs, and applies operation by operation:
a refused operation is logged with the object it was about and the pass carries on
with every other object; the next pass retries it. Owned objects no longer wanted
(also those left over from before a restart) are swept by the same diff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from filament.datapath.base import Datapath, DatapathError
from filament.datapath.state import DatapathState, Op, diff

log = logging.getLogger("filament.agent.reconcile")


@dataclass
class PassResult:
    applied: list[Op] = field(default_factory=list)
    failed: list[DatapathError] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not self.applied and not self.failed


def reconcile(backend: Datapath, desired: DatapathState) -> PassResult:
    result = PassResult()
    actual = backend.observe()
    for op in diff(desired, actual):
        try:
            backend.apply(op)
        except DatapathError as exc:
            log.warning("datapath refused: %s", exc)
            result.failed.append(exc)
        else:
            result.applied.append(op)
    return result


def converge(backend: Datapath, desired: DatapathState, max_passes: int = 3) -> PassResult:
    """Reconcile until nothing changes (an op can depend on one that failed earlier in
    the same pass) or ``max_passes`` is reached; returns the last pass."""
    result = reconcile(backend, desired)
    for _ in range(max_passes - 1):
        if not result.applied:
            break
        result = reconcile(backend, desired)
    return result
