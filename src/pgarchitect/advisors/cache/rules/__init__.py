"""The cache advisor's rules, one per module: ``app_cache`` (a result kept in the
application) and ``preaggregate`` (per-day aggregates kept in a materialized view)."""
