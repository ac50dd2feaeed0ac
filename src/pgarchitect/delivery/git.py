"""A branch and a commit in the team's repository, made beside the user's work, never in it.

:func:`commit_branch` makes a new branch from the current HEAD with the given files
added, in a temporary ``git worktree`` (checked out without files: the commit is the
HEAD's tree plus the new files). The repository's work tree, index and current branch
are never touched: a half-edited checkout stays exactly as it was. Then the branch is
pushed with ``--set-upstream`` when the remote exists; a refused push is reported in the
result, with git's message, not raised (the commit is made, the push can be redone).

Every git command runs with an argument list (no shell), without a terminal prompt, and
with a timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from pgarchitect.errors import PgArchitectError

DEFAULT_AUTHOR = "pgarchitect <pgarchitect@localhost>"
GIT_TIMEOUT = 120.0  # seconds, for each local command (a worktree of a large repository)
PUSH_TIMEOUT = 300.0  # seconds, for the push

# Variables that would point git at another repository, index or work tree than the one
# asked for (set when pgarchitect runs from a git hook), or put another name on the commit.
_IGNORED_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE",
)
_AUTHOR = re.compile(r"\s*([^<>\n]*[^<>\s])\s*<([^<>\s]+)>\s*")
_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")  # the userinfo of a URL in git's messages
_MAX_MESSAGE = 2000  # characters of git's message kept in a result


class GitError(PgArchitectError):
    """The branch could not be made: git is missing, the path is not a repository, the
    branch exists with other content, or a git command failed."""


@dataclass(frozen=True)
class BranchResult:
    """What :func:`commit_branch` did: the branch, its commit, and whether it was pushed."""

    branch: str
    commit: str  # the full SHA of the branch's commit
    pushed: bool
    notes: tuple[str, ...] = ()
    push_error: str | None = None  # git's message when the push failed


def branch_name(prefix: str, when: datetime, digest: str) -> str:
    """A branch name for a delivery: ``<prefix>/<date>-<first 6 of digest>``, always a
    valid branch name (``git check-ref-format``): what ``prefix`` has that a ref cannot
    have is replaced or dropped.

    >>> branch_name("pgarchitect", datetime(2026, 12, 7, 9, 30), "1A2B3C4D5E6F")
    'pgarchitect/2026-12-07-1a2b3c'
    >>> branch_name(" db fixes/..nightly.lock/ ", datetime(2026, 1, 2), "ab:cd/ef99")
    'db-fixes/nightly/2026-01-02-abcdef'
    """
    parts = [_ref_component(part) for part in prefix.split("/")]
    parts = [part for part in parts if part] or ["pgarchitect"]
    suffix = re.sub(r"[^0-9a-z]", "", digest.lower())[:6]
    if not suffix:
        raise ValueError(f"digest {digest!r} has no letter or digit to name a branch with")
    return "/".join([*parts, f"{when:%Y-%m-%d}-{suffix}"])


def _ref_component(text: str) -> str:
    """One component of a ref name, made safe (see ``git help check-ref-format``)."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip())  # spaces, ~^:?*[\ @{ controls
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"-{2,}", "-", text)[:100]
    while True:
        cleaned = text.strip("-.")
        cleaned = cleaned.removesuffix(".lock")
        if cleaned == text:
            return text
        text = cleaned


def commit_branch(
    repo: Path,
    files: Mapping[PurePosixPath, str],
    *,
    branch: str,
    message: str,
    author: str = DEFAULT_AUTHOR,
    remote: str | None = "origin",
) -> BranchResult:
    """Commit ``files`` (paths relative to the top of ``repo``, and their text) on a new
    branch made from the current HEAD, then push it to ``remote`` when it exists.

    When the branch already exists with exactly the tree this commit would have (an
    earlier run's), it is returned with a note and pushed again; with another tree it
    is refused. The current branch is never committed on.
    """
    git = shutil.which("git")
    if git is None:
        raise GitError("git is not installed (no `git` on PATH): install it (Debian: apt-get "
                       "install git) to deliver migrations on a branch.")
    name, email = _author(author)
    if not message.strip():
        raise GitError("The commit message is empty: give the commit a message.")
    checked = _paths(files)
    paths = sorted(checked)
    runner = _Git(git, repo)
    runner.check_repository()
    _check_branch(runner, branch)
    head = runner.out("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if not head:
        raise GitError(f"The repository {repo} has no commit yet: commit something on its "
                       "current branch first, the branch is made from HEAD.")
    existing = runner.out("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}",
                          check=False)

    identity = ("-c", f"user.name={name}", "-c", f"user.email={email}",
                "-c", f"author.name={name}", "-c", f"author.email={email}",
                "-c", f"committer.name={name}", "-c", f"committer.email={email}")
    notes: list[str] = []
    with _Worktree(runner, head) as tree_dir:
        inside = _Git(git, tree_dir)
        inside.out("read-tree", head)
        for path in paths:
            target = tree_dir.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(checked[path].encode("utf-8"))
        inside.out("add", "--force", "--", *(str(p) for p in paths))
        tree = inside.out("write-tree")
        if existing:
            if runner.out("rev-parse", f"{existing}^{{tree}}") != tree:
                raise GitError(
                    f"The branch {branch} already exists in {repo} with other content: "
                    f"pick another branch name, or delete it (git branch -D {branch}) if "
                    "it is an old delivery nobody needs.")
            commit = existing
            notes.append(f"The branch {branch} already exists with the same files (commit "
                         f"{commit[:10]}): nothing committed.")
        else:
            if runner.out("rev-parse", f"{head}^{{tree}}") == tree:
                raise GitError(f"The files are already in HEAD ({head[:10]}) of {repo} with "
                               "this content: there is nothing to commit on a new branch.")
            commit = inside.out(*identity, "commit-tree", "--no-gpg-sign", "-p", head,
                                "-F", "-", tree, input=message.rstrip("\n") + "\n")
    if not existing:
        # The old value "" makes the update fail if the branch appeared meanwhile.
        runner.out("update-ref", "-m", "pgarchitect: delivery branch", f"refs/heads/{branch}",
                   commit, "")
        notes.append(f"Committed {len(paths)} file(s) on the new branch {branch} (commit "
                     f"{commit[:10]}), made from HEAD {head[:10]}.")
    return _push(runner, branch, commit, remote, notes)


def _author(author: str) -> tuple[str, str]:
    match = _AUTHOR.fullmatch(author)
    if match is None:
        raise GitError(f"The author {author!r} is not of the form 'Name <email>': write it "
                       f"like {DEFAULT_AUTHOR!r}.")
    return match.group(1), match.group(2)


def _paths(files: Mapping[PurePosixPath, str]) -> dict[PurePosixPath, str]:
    """The files by path, checked: relative, inside the repository, not in ``.git``."""
    if not files:
        raise GitError("No files to commit: give commit_branch at least one file.")
    checked: dict[PurePosixPath, str] = {}
    for key, text in files.items():
        path = PurePosixPath(key)
        parts = path.parts
        if (path.is_absolute() or not parts or ".." in parts
                or any(p.lower() == ".git" for p in parts)
                or any("\\" in p or "\x00" in p for p in parts)):
            raise GitError(f"The file path {str(key)!r} is not a relative path inside the "
                           "repository (no '..', no .git): give paths relative to its top.")
        if not isinstance(text, str):
            raise GitError(f"The content of {path} is not text.")
        checked[path] = text
    return checked


def _check_branch(runner: _Git, branch: str) -> None:
    valid = (branch and not branch.startswith("-") and branch != "HEAD"
             and runner.run("check-ref-format", f"refs/heads/{branch}").returncode == 0)
    if not valid:
        raise GitError(f"{branch!r} is not a valid branch name (git check-ref-format): use "
                       "branch_name() to make one.")
    current = runner.out("symbolic-ref", "--quiet", "HEAD", check=False)
    if current == f"refs/heads/{branch}":
        raise GitError(f"The branch {branch} is the current branch of {runner.cwd}: the "
                       "delivery never commits on it. Pick another branch name.")


def _push(runner: _Git, branch: str, commit: str, remote: str | None,
          notes: list[str]) -> BranchResult:
    if remote is None:
        notes.append("Not pushed: no remote was given.")
        return BranchResult(branch, commit, False, tuple(notes))
    if runner.run("remote", "get-url", "--", remote).returncode != 0:
        notes.append(f"Not pushed: the repository has no remote {remote!r}. Add it (git "
                     f"remote add {remote} URL) and push the branch: git push "
                     f"--set-upstream {remote} {branch}.")
        return BranchResult(branch, commit, False, tuple(notes))
    done = runner.run("push", "--set-upstream", remote,
                      f"refs/heads/{branch}:refs/heads/{branch}", timeout=PUSH_TIMEOUT)
    if done.returncode == 0:
        notes.append(f"Pushed to {remote}, upstream set.")
        return BranchResult(branch, commit, True, tuple(notes))
    error = _message(done)
    notes.append(f"The push to {remote} failed: {error} The branch is committed locally: "
                 f"push it with `git push --set-upstream {remote} {branch}` once that is "
                 "fixed.")
    return BranchResult(branch, commit, False, tuple(notes), push_error=error)


def _message(done: subprocess.CompletedProcess[str]) -> str:
    """git's message, credentials in URLs hidden, at most _MAX_MESSAGE characters."""
    text = (done.stderr.strip() or done.stdout.strip()
            or f"git exited with status {done.returncode}")
    text = _CREDENTIALS.sub("****@", text)
    return text if len(text) <= _MAX_MESSAGE else "…" + text[-_MAX_MESSAGE:]


class _Git:
    """git commands in one directory."""

    def __init__(self, git: str, cwd: Path) -> None:
        self.git = git
        self.cwd = cwd

    def run(self, *args: str, input: str | None = None,
            timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in _IGNORED_ENV}
        env.update(GIT_TERMINAL_PROMPT="0", GCM_INTERACTIVE="never")
        command = [self.git, "-C", str(self.cwd), *args]
        try:
            return subprocess.run(
                command, input=input, stdin=subprocess.DEVNULL if input is None else None,
                capture_output=True, text=True, encoding="utf-8", errors="replace",
                env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GitError(f"`git {_verb(args)}` in {self.cwd} did not finish within "
                           f"{timeout:g} s: check the repository (a lock left by another "
                           "git, an unreachable remote) and run again.") from None
        except OSError as exc:
            raise GitError(f"git could not be run ({exc.strerror or exc}): check that "
                           f"{self.git} is a working git.") from None

    def out(self, *args: str, input: str | None = None, check: bool = True) -> str:
        """The command's output, stripped; on failure a GitError with git's message
        (``check``) or "" ."""
        done = self.run(*args, input=input)
        if done.returncode != 0:
            if not check:
                return ""
            raise GitError(f"`git {_verb(args)}` failed in {self.cwd}: {_message(done)}")
        return done.stdout.strip()

    def check_repository(self) -> None:
        """Refuse what is not the top of a git work tree or a bare repository."""
        if not self.cwd.is_dir():
            raise GitError(f"{self.cwd} is not a directory: set delivery_repo to the path "
                           "of the team's git repository.")
        done = self.run("rev-parse", "--is-bare-repository", "--absolute-git-dir")
        if done.returncode != 0:
            raise GitError(f"{self.cwd} is not a git repository ({_message(done)}): set "
                           "delivery_repo to the path of a clone of the team's repository.")
        bare, git_dir = done.stdout.split("\n")[:2]
        top = (git_dir if bare == "true"
               else self.out("rev-parse", "--show-toplevel", check=False))
        if not top or Path(top).resolve() != self.cwd.resolve():
            raise GitError(f"{self.cwd} is inside the git repository {top or git_dir}, not "
                           "its top: give the path of the repository itself.")


def _verb(args: Sequence[str]) -> str:
    """The git command of an argument list, without the ``-c`` settings before it."""
    rest = list(args)
    while len(rest) >= 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else ""


class _Worktree:
    """A worktree of ``runner``'s repository at ``commit``, detached and without files,
    in a temporary directory; removed on exit, whatever happened."""

    def __init__(self, runner: _Git, commit: str) -> None:
        self.runner = runner
        self.commit = commit
        self.tmp = tempfile.TemporaryDirectory(prefix="pgarchitect-branch-")
        self.path = Path(self.tmp.name) / "tree"

    def __enter__(self) -> Path:
        try:
            self.runner.out("worktree", "add", "--detach", "--no-checkout", str(self.path),
                            self.commit)
        except BaseException:
            self._cleanup()
            raise
        return self.path

    def __exit__(self, *exc: object) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        # Only this worktree is removed: `git worktree prune` would also drop the entries
        # of the user's own worktrees that are out of reach (an unmounted disk).
        try:
            if self.path.exists():
                self.runner.run("worktree", "remove", "--force", str(self.path))
        finally:
            self.tmp.cleanup()
