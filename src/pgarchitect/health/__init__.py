"""The daily health snapshot of a database (``pgarchitect health``).

``model`` names each figure and its unit, ``checks`` reads them from the target (one
function per check, in ``CHECKS``), ``estimate`` computes the estimated p95 latency,
``collect`` takes and stores a snapshot, ``render`` prints one. Stored snapshots are
read with :func:`pgarchitect.store.health.latest` and :func:`~pgarchitect.store.health.history`.
"""
