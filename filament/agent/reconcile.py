"""Converge a datapath backend to a desired state (synchronous; run it in a worker thread).

Each pass observes what the backend owns, diffs, and applies operation by operation:
a refused operation is logged with the object it was about and the pass carries on
with every other object; the next pass retries it. Owned objects no longer wanted
(also those left over from before a restart) are swept by the same diff.

Fail closed: the nft filter is added before anything that routes traffic (``ADD_ORDER``);
if the kernel refuses it, the pass adds nothing else (a new port would otherwise forward
without its ACLs), and those adds are reported as failed with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from filament.datapath.base import Datapath, DatapathError
from filament.datapath.state import ROUTING_KINDS, DatapathState, Op, diff

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
    unfiltered: DatapathError | None = None  # the filter add that failed, if any
    for op in diff(desired, actual):
        if unfiltered is not None and op.action == "add" and op.kind in ROUTING_KINDS:
            result.failed.append(DatapathError(op, f"not added: the nft filter is not loaded ({unfiltered})"))
            continue
        try:
            backend.apply(op)
        except DatapathError as exc:
            log.warning("datapath refused: %s", exc)
            result.failed.append(exc)
            if op.kind == "filter" and op.action == "add":
                unfiltered = exc
        else:
            result.applied.append(op)
    return result


def converge(backend: Datapath, desired: DatapathState, max_passes: int = 3) -> PassResult:
    """Reconcile until no op fails (an op can depend on one that failed earlier in the
    same pass) or nothing changes, at most ``max_passes`` times; returns the last pass.
    A pass where every op succeeded is not confirmed by another observe: that costs as
    much as the pass (the periodic resync catches what the kernel did on its own)."""
    result = reconcile(backend, desired)
    for _ in range(max_passes - 1):
        if not result.failed or not result.applied:
            break
        result = reconcile(backend, desired)
    return result
