"""The demo education platform: its schema, generated data, data layer and traffic.

pgarchitect is tried out on this database: it is under-indexed on purpose, and
its traffic puts the slow statements into pg_stat_statements.
"""

from __future__ import annotations
