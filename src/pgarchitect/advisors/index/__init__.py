"""The index advisor: candidates, what-if planning, selection for the workload, measurement."""
