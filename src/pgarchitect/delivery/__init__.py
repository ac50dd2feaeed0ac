"""Delivery: the audit's proposals handed to people, never applied on their own.

- :mod:`.migrations`: migration files in the team's format (plain SQL, Prisma,
  Alembic, Flyway), each with its rollback and a comment block of evidence;
- :mod:`.git` and :mod:`.github`: a branch and a commit in the team's repository,
  and a pull request through GitHub's REST API;
- :mod:`.report`: the weekly report (Markdown, HTML, JSON), sent to Slack and by
  e-mail when configured.
"""
