"""A delivery branch in a real git repository: a bare repository plays the team's remote,
a clone with uncommitted work plays the user's checkout, which must not change at all."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgarchitect.delivery.git import GitError, branch_name, commit_branch

BRANCH = "pgarchitect/2026-12-07-1a2b3c"
FILES = {
    PurePosixPath("migrations/20261207_orders_customer_idx.sql"):
        "CREATE INDEX CONCURRENTLY orders_customer_idx ON public.orders (customer_id);\n",
    PurePosixPath("migrations/20261207_orders_customer_idx.down.sql"):
        "DROP INDEX CONCURRENTLY public.orders_customer_idx;\n",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def _git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git reads no configuration of the machine or the user: only this one."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Dana Developer\n\temail = dana@example.org\n"
        "[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def bare_remote(path: Path) -> Path:
    git(path.parent, "init", "--quiet", "--bare", path.name)
    return path


def refuse_pushes(remote: Path) -> None:
    """A pre-receive hook that turns every push down, as a protected remote does."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen until Monday' >&2\nexit 1\n")
    hook.chmod(0o755)


def clone_with_work(tmp_path: Path, remote: Path | None) -> Path:
    """A repository with two commits on main, then uncommitted work of every sort: a
    modified file, a staged change, an untracked file."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "--quiet")
    (work / "README.md").write_text("# shop\n")
    (work / "db").mkdir()
    (work / "db" / "schema.sql").write_text("CREATE TABLE orders (id bigint);\n")
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "first")
    (work / "app.py").write_text("print('shop')\n")
    git(work, "add", "app.py")
    git(work, "commit", "--quiet", "-m", "second")
    if remote is not None:
        git(work, "remote", "add", "origin", str(remote))
        git(work, "push", "--quiet", "origin", "main")
    (work / "README.md").write_text("# shop\n\nhalf-written notes\n")  # modified
    (work / "app.py").write_text("print('shop, staged')\n")
    git(work, "add", "app.py")  # staged
    (work / "scratch.sql").write_text("SELECT 1;\n")  # untracked
    return work


def snapshot(work: Path) -> dict[str, object]:
    """Everything of the checkout a delivery must leave alone, read without writing
    (--no-optional-locks: `git status` does not refresh the index)."""
    return {
        "index": (work / ".git" / "index").read_bytes(),
        "files": {p.relative_to(work).as_posix(): p.read_bytes()
                  for p in sorted(work.rglob("*")) if p.is_file() and ".git" not in p.parts},
        "head": git(work, "rev-parse", "HEAD"),
        "branch": git(work, "symbolic-ref", "HEAD"),
        "staged": git(work, "diff", "--cached"),
        "status": subprocess.run(["git", "--no-optional-locks", "-C", str(work), "status",
                                  "--porcelain"],
                                 capture_output=True, text=True, check=True).stdout,
        "worktrees": git(work, "worktree", "list", "--porcelain"),
    }


def test_the_branch_reaches_the_remote_and_the_checkout_is_untouched(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    work = clone_with_work(tmp_path, remote)
    before = snapshot(work)
    head = before["head"]
    assert before["status"] == " M README.md\nM  app.py\n?? scratch.sql\n"

    result = commit_branch(work, FILES, branch=BRANCH, message="pgarchitect: 1 index\n\nWhy.")

    assert result.pushed and result.push_error is None
    assert result.branch == BRANCH and len(result.commit) == 40
    assert snapshot(work) == before
    # On the remote: the branch, its files, made from HEAD as committed (not the dirty work).
    assert git(remote, "rev-parse", f"refs/heads/{BRANCH}") == result.commit
    for path, text in FILES.items():
        assert git(remote, "show", f"{BRANCH}:{path}") + "\n" == text
    assert git(remote, "show", f"{BRANCH}:README.md") == "# shop"
    assert git(remote, "show", f"{BRANCH}:app.py") == "print('shop')"
    assert git(remote, "ls-tree", "-r", "--name-only", BRANCH).splitlines() == [
        "README.md", "app.py", "db/schema.sql", *sorted(str(p) for p in FILES)]
    assert git(remote, "rev-parse", f"{BRANCH}^") == head
    assert git(remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", BRANCH) == (
        "pgarchitect <pgarchitect@localhost>|pgarchitect <pgarchitect@localhost>|"
        "pgarchitect: 1 index\n\nWhy.")
    assert git(work, "config", f"branch.{BRANCH}.remote") == "origin"
    assert not (work / "migrations").exists()
    assert not (work / ".git" / "worktrees").exists() or not any(
        (work / ".git" / "worktrees").iterdir())
    assert any("Pushed to origin" in note for note in result.notes), result.notes


def test_the_same_files_again_return_the_branch_other_files_are_refused(
        tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    work = clone_with_work(tmp_path, remote)
    first = commit_branch(work, FILES, branch=BRANCH, message="first delivery")
    again = commit_branch(work, FILES, branch=BRANCH, message="second delivery")
    assert again.commit == first.commit and again.pushed
    assert any("already exists with the same files" in note for note in again.notes)

    other = {PurePosixPath("migrations/other.sql"): "CREATE INDEX other ON orders (id);\n"}
    with pytest.raises(GitError, match=f"branch {BRANCH} already exists .* with other content"):
        commit_branch(work, other, branch=BRANCH, message="third delivery")
    assert git(work, "rev-parse", f"refs/heads/{BRANCH}") == first.commit


def test_without_the_remote_it_is_committed_and_not_pushed(tmp_path: Path) -> None:
    work = clone_with_work(tmp_path, None)
    before = snapshot(work)
    result = commit_branch(work, FILES, branch=BRANCH, message="m")
    assert not result.pushed and result.push_error is None
    assert git(work, "rev-parse", f"refs/heads/{BRANCH}") == result.commit
    assert any("no remote 'origin'" in note for note in result.notes), result.notes
    assert snapshot(work) == before

    unasked = commit_branch(work, FILES, branch="pgarchitect/local", message="m", remote=None)
    assert not unasked.pushed
    assert any("no remote was given" in note for note in unasked.notes), unasked.notes


def test_a_refused_push_is_reported_with_gits_message(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    work = clone_with_work(tmp_path, remote)
    refuse_pushes(remote)
    result = commit_branch(work, FILES, branch=BRANCH, message="m")
    assert not result.pushed
    assert result.push_error is not None
    assert "pushes are frozen until Monday" in result.push_error
    assert "pre-receive hook declined" in result.push_error
    assert any("The push to origin failed" in note for note in result.notes)
    # committed here all the same, not on the remote
    assert git(work, "rev-parse", f"refs/heads/{BRANCH}") == result.commit
    assert git(remote, "for-each-ref", "refs/heads/pgarchitect") == ""


def test_what_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="is not a git repository"):
        commit_branch(plain, FILES, branch=BRANCH, message="m")
    with pytest.raises(GitError, match="is not a directory"):
        commit_branch(tmp_path / "missing", FILES, branch=BRANCH, message="m")
    work = clone_with_work(tmp_path, None)
    with pytest.raises(GitError, match=r"is inside the git repository .*, not its top"):
        commit_branch(work / "db", FILES, branch=BRANCH, message="m")
    empty = tmp_path / "empty"
    git(tmp_path, "init", "--quiet", "empty")
    with pytest.raises(GitError, match="has no commit yet"):
        commit_branch(empty, FILES, branch=BRANCH, message="m")


def test_without_git_it_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = clone_with_work(tmp_path, None)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(GitError, match="git is not installed"):
        commit_branch(work, FILES, branch=BRANCH, message="m")


@pytest.mark.parametrize(("branch", "error"), [
    ("main", "is the current branch"),
    ("bad..name", "is not a valid branch name"),
    ("-f", "is not a valid branch name"),
    ("HEAD", "is not a valid branch name"),
    ("with space", "is not a valid branch name"),
])
def test_the_current_branch_and_bad_names_are_refused(tmp_path: Path, branch: str,
                                                      error: str) -> None:
    work = clone_with_work(tmp_path, None)
    before = git(work, "for-each-ref")
    with pytest.raises(GitError, match=error):
        commit_branch(work, FILES, branch=branch, message="m")
    assert git(work, "for-each-ref") == before


@pytest.mark.parametrize("path", ["../outside.sql", ".git/hooks/post-commit", "/tmp/x.sql",
                                  "db/../../x.sql", "."])
def test_paths_outside_the_repository_are_refused(tmp_path: Path, path: str) -> None:
    work = clone_with_work(tmp_path, None)
    with pytest.raises(GitError, match="is not a relative path inside the repository"):
        commit_branch(work, {PurePosixPath(path): "x"}, branch=BRANCH, message="m")
    assert not (tmp_path / "outside.sql").exists()


def test_files_already_in_head_are_nothing_to_commit(tmp_path: Path) -> None:
    work = clone_with_work(tmp_path, None)
    same = {PurePosixPath("db/schema.sql"): "CREATE TABLE orders (id bigint);\n"}
    with pytest.raises(GitError, match="already in HEAD"):
        commit_branch(work, same, branch=BRANCH, message="m")
    assert git(work, "for-each-ref", "refs/heads/pgarchitect") == ""


def test_gits_variables_from_a_hook_do_not_redirect_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a git hook, pgarchitect inherits GIT_DIR and GIT_INDEX_FILE: the branch
    is still made in the repository asked for, and no other index is written."""
    work = clone_with_work(tmp_path, None)
    elsewhere = tmp_path / "elsewhere"
    git(tmp_path, "init", "--quiet", "elsewhere")
    before = snapshot(work)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "stray-index"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Someone Else")
    result = commit_branch(work, FILES, branch=BRANCH, message="m")
    for var in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME"):
        monkeypatch.delenv(var)
    assert git(work, "rev-parse", f"refs/heads/{BRANCH}") == result.commit
    assert git(work, "log", "-1", "--format=%an", BRANCH) == "pgarchitect"
    assert not (tmp_path / "stray-index").exists()
    assert snapshot(work) == before


def test_branch_name() -> None:
    when = datetime(2026, 12, 7, 23, 59)
    assert branch_name("pgarchitect", when, "1a2b3c4d") == "pgarchitect/2026-12-07-1a2b3c"
    assert branch_name("", when, "ABCDEF0") == "pgarchitect/2026-12-07-abcdef"
    with pytest.raises(ValueError, match="no letter or digit"):
        branch_name("pgarchitect", when, "--//")


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(prefix=st.text(max_size=40), digest=st.text(min_size=1, max_size=12).filter(
    lambda d: any(c.isascii() and c.isalnum() for c in d)))
def test_branch_names_are_valid_refs(prefix: str, digest: str) -> None:
    name = branch_name(prefix, datetime(2026, 12, 7), digest)
    done = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == name, (name, done.stderr)
    assert not name.startswith("-")
