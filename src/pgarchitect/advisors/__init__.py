"""The advisors: each proposes one kind of fix for the audit's statements."""
