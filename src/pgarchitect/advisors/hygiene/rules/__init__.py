"""The hygiene rules, one per file: each reads the snapshot and returns findings."""
