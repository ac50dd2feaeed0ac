"""random_page_cost for a server whose storage is SSD.

The default, 4, prices a random page read at four sequential ones: spinning disks'
seek time. On SSD a random read costs about what a sequential one does, and with
the default the planner keeps reading whole tables where an index would serve. The
storage must be known (:func:`pgarchitect.advisors.settings.machine.storage`: given,
a managed service's, or the data directory's device): unknown, nothing is proposed.
The value tried is 1.1, the one the PostgreSQL community and the managed services'
guides give for SSD, with ``SET LOCAL`` on the statements whose plan it changes;
it is proposed only when they get faster and none slower.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgarchitect.advisors.base import Context, Draft, Subject
from pgarchitect.advisors.settings.machine import Known
from pgarchitect.advisors.settings.managed import Service
from pgarchitect.advisors.settings.model import Current, plan_changes
from pgarchitect.advisors.settings.verify import Change, measured_draft

SSD_VALUE = "1.1"
DEFAULT = 4.0


def applies(rpc: Current, storage: Known) -> str | None:
    """Why the rule does not apply, or None when it does.

    >>> applies(Current("random_page_cost", 4.0, 4.0, "default"), Known("ssd", "given"))
    >>> applies(Current("random_page_cost", 1.1, 4.0, "configuration file"),
    ...         Known("ssd", "given"))
    'random_page_cost is 1.1 already (configuration file)'
    """
    if rpc.value < DEFAULT:
        return f"random_page_cost is {rpc.value:g} already ({rpc.source})"
    if storage.value != "ssd":
        return (f"random_page_cost: storage {storage.value or 'unknown'} ({storage.how}), "
                "not proposed")
    return None


def propose(ctx: Context, subjects: Sequence[Subject], rpc: Current, storage: Known,
            service: Service, advisor: str) -> tuple[list[Draft], list[str]]:
    """A draft trying 1.1 on the statements whose plan it changes, and notes."""
    why_not = applies(rpc, storage)
    if why_not is not None:
        return [], [why_not]
    changed = plan_changes(ctx.conn, subjects, {"random_page_cost": SSD_VALUE})
    if not changed:
        return [], [f"random_page_cost: storage is SSD ({storage.how}), but no statement's "
                    f"plan changes with {SSD_VALUE}: not proposed"]
    change = Change(
        "random_page_cost", SSD_VALUE, f"{rpc.value:g}", "random_page_cost",
        problem=f"random_page_cost is {rpc.value:g}, priced for spinning disks, on SSD",
        reasoning=(f"The storage is SSD ({storage.how}): a random page costs about what a "
                   f"sequential one does, so random_page_cost {SSD_VALUE} lets the planner "
                   "choose index scans where they are cheaper. It reaches every statement "
                   "without a restart."),
        evidence=(f"Storage: SSD ({storage.how}).",
                  f"random_page_cost {rpc.value:g} ({rpc.source}).",
                  f"{len(changed)} statement(s) plan differently with {SSD_VALUE}."),
        service=service, facts=(("storage", storage.how), ("statements", len(changed))))
    return [measured_draft(ctx, change, changed, advisor)], []
