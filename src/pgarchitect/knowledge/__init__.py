"""Knowledge base of past findings: similar statements already solved."""
