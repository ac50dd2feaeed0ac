"""A pull request through GitHub's REST API, and its title and description.

:class:`GitHub` is a small client over httpx: it finds the open pull request of a
branch, opens one (then labels it), and tells whether one was merged. The token goes
in the Authorization header and nowhere else: the client's repr masks it and no error
message carries it. Server errors and network failures are retried with backoff; a
request GitHub refuses (a pull request that already exists aside) is a clear error
with GitHub's own message.

:func:`pr_title` and :func:`pr_body` write the pull request for a set of proposals,
in Markdown where nothing taken from a statement or a plan can escape its code block.
"""

from __future__ import annotations

import html
import ipaddress
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import httpx

from pgarchitect import __version__
from pgarchitect.errors import ConfigError, PgArchitectError
from pgarchitect.proposal import Measurement, Proposal, describe_action
from pgarchitect.settings import MASK

LABELS = ("database", "ai-generated", "optimization")
API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = f"pgarchitect/{__version__}"
MAX_TITLE = 256  # characters GitHub takes in a pull request's title
MAX_BODY = 65536  # and in its description
MAX_PLAN = 20000  # characters of one plan shown in a description
MAX_RETRY_AFTER = 60.0  # seconds waited at most when GitHub asks to come back later

_RETRIED = frozenset({429, 500, 502, 503, 504})
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space: what a token is made of
_NOTHING: Mapping[str, Any] = MappingProxyType({})


class GitHubError(PgArchitectError):
    """GitHub refused a request or could not be reached."""


@dataclass(frozen=True)
class PullRequest:
    """A pull request: its number, its page, and its state (open, closed)."""

    number: int
    url: str
    state: str
    existing: bool = False  # it was open already: not opened by this call
    notes: tuple[str, ...] = ()  # what went wrong after it was opened (its labels)


class GitHub:
    """GitHub's REST API for one repository (``owner/name``), with one token."""

    def __init__(self, repo: str, token: str, *, api_url: str = API_URL,
                 timeout: float = 10.0, retries: int = 2, backoff: float = 0.5) -> None:
        if not _REPO.fullmatch(repo):
            raise ConfigError(f"github_repo {repo!r} is not of the form owner/name: set it to "
                              "the repository pull requests are opened in, e.g. acme/shop.")
        if not _TOKEN.fullmatch(token):
            # Never echoed: a mistyped token is still most of a token.
            raise ConfigError("github_token is empty or has characters a GitHub token never "
                              "has (spaces, line breaks): set GITHUB_TOKEN to the token alone.")
        if retries < 0 or timeout <= 0 or backoff < 0:
            raise ConfigError("GitHub's client needs timeout > 0, retries >= 0 and "
                              "backoff >= 0.")
        self.repo = repo
        self.owner = repo.split("/")[0]
        self.api_url = _check_api_url(api_url)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._token = token
        self._client = httpx.Client(
            base_url=self.api_url, timeout=timeout, follow_redirects=True,
            headers={"Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT})

    def __repr__(self) -> str:
        return f"GitHub(repo={self.repo!r}, api_url={self.api_url!r}, token={MASK!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API

    def find_open(self, head_branch: str) -> PullRequest | None:
        """The open pull request from ``head_branch`` (of this repository), if any."""
        path = f"/repos/{self.repo}/pulls"
        response = self._request("GET", path, params={
            "state": "open", "head": f"{self.owner}:{head_branch}"})
        if response.status_code != 200:
            raise self._refused("GET", path, response)
        found = self._json("GET", path, response)
        if not isinstance(found, list):
            raise self._unexpected("GET", path, "not a list of pull requests")
        for doc in found:
            head = doc.get("head") if isinstance(doc, dict) else None
            if not isinstance(head, dict) or head.get("ref") in (None, head_branch):
                return replace(self._pull("GET", path, doc), existing=True)
        return None

    def open_pr(self, branch: str, base: str, title: str, body: str,
                labels: Sequence[str] = LABELS) -> PullRequest:
        """Open a pull request from ``branch`` into ``base`` and label it.

        When GitHub answers that one is open already for the branch, that one is
        returned (``existing``). A failure to label is a note of the result: the pull
        request is open all the same.
        """
        path = f"/repos/{self.repo}/pulls"
        response = self._request("POST", path, json={
            "title": title, "head": branch, "base": base, "body": body})
        if response.status_code == 422 and _already_exists(response):
            found = self.find_open(branch)
            if found is None:
                raise GitHubError(
                    f"GitHub says a pull request from {branch} already exists in "
                    f"{self.repo}, but none is open: look at the repository's pull requests "
                    "and close or reopen it.")
            return found
        if response.status_code == 422:
            raise GitHubError(self._scrub(
                f"GitHub refused to open a pull request from {branch} into {base} in "
                f"{self.repo} (HTTP 422: {_github_message(response)}): check that the "
                f"branch was pushed, that {base} exists and that the branch has commits "
                f"{base} does not."))
        if response.status_code != 201:
            raise self._refused("POST", path, response)
        pull = self._pull("POST", path, self._json("POST", path, response))
        if labels:
            note = self._label(pull.number, labels)
            if note:
                pull = replace(pull, notes=(note,))
        return pull

    def status(self, number: int) -> str:
        """``open``, ``closed`` or ``merged``."""
        path = f"/repos/{self.repo}/pulls/{int(number)}"
        response = self._request("GET", path)
        if response.status_code != 200:
            raise self._refused("GET", path, response)
        doc = self._json("GET", path, response)
        if not isinstance(doc, dict):
            raise self._unexpected("GET", path, "not a pull request")
        if doc.get("merged") is True:
            return "merged"
        state = doc.get("state")
        if state not in ("open", "closed"):
            raise self._unexpected("GET", path, f"state {state!r}")
        return str(state)

    # -- inside

    def _label(self, number: int, labels: Sequence[str]) -> str | None:
        """Add the labels; what went wrong, as a note, or None."""
        path = f"/repos/{self.repo}/issues/{number}/labels"
        try:
            response = self._request("POST", path, json={"labels": list(labels)})
        except GitHubError as exc:
            return f"The labels were not added: {exc}"
        if response.status_code != 200:
            return f"The labels were not added: {self._refused('POST', path, response)}"
        return None

    def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                 json: Any = None) -> httpx.Response:
        """The answer, after retries of server errors and network failures."""
        headers = {"Authorization": f"Bearer {self._token}"}
        attempts = self.retries + 1
        last = ""
        for attempt in range(attempts):
            delay = self.backoff * 2**attempt
            try:
                response = self._client.request(method, path, params=params, json=json,
                                                headers=headers)
            except httpx.TransportError as exc:  # connection, timeout, protocol
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except httpx.HTTPError as exc:
                raise GitHubError(self._scrub(
                    f"The request {method} {path} to GitHub failed ({exc}).")) from None
            else:
                if response.status_code not in _RETRIED:
                    return response
                last = f"HTTP {response.status_code}: {_github_message(response)}"
                delay = max(delay, _retry_after(response))
            if attempt < attempts - 1:
                time.sleep(delay)
        raise GitHubError(self._scrub(
            f"GitHub did not answer {method} {path} after {attempts} attempt(s) (last: "
            f"{last}): GitHub or the network may be down (https://www.githubstatus.com); "
            "run the delivery again later."))

    def _json(self, method: str, path: str, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(method, path, "not JSON") from None

    def _pull(self, method: str, path: str, doc: Any) -> PullRequest:
        if isinstance(doc, dict):
            number, url, state = doc.get("number"), doc.get("html_url"), doc.get("state")
            if (isinstance(number, int) and not isinstance(number, bool)
                    and isinstance(url, str) and isinstance(state, str)):
                return PullRequest(number, url, state)
        raise self._unexpected(method, path, "not a pull request")

    def _unexpected(self, method: str, path: str, what: str) -> GitHubError:
        return GitHubError(self._scrub(
            f"GitHub's answer to {method} {path} is {what}: is github_api_url "
            f"({self.api_url}) GitHub's REST API?"))

    def _refused(self, method: str, path: str, response: httpx.Response) -> GitHubError:
        status = response.status_code
        hint = {
            401: "the token was refused: check that GITHUB_TOKEN (github_token) is valid "
                 "and not expired",
            403: "the token lacks a permission (Pull requests: write; Issues: write for "
                 "labels) or a rate limit was reached",
            404: f"the repository {self.repo} or the pull request does not exist, or the "
                 "token cannot see it: check github_repo and the token's repository access",
        }.get(status, "see GitHub's message")
        return GitHubError(self._scrub(
            f"GitHub refused {method} {path} (HTTP {status}: {_github_message(response)}): "
            f"{hint}."))

    def _scrub(self, text: str) -> str:
        """``text`` without the token, whatever put it there."""
        return text.replace(self._token, MASK)


def _check_api_url(api_url: str) -> str:
    """The API's URL, without a trailing '/'; the token travels over HTTPS only (plain
    HTTP is taken for this machine alone)."""
    try:
        url = httpx.URL(api_url)
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"github_api_url {api_url!r} is not an http(s) URL: leave it unset "
                          "for github.com, or give https://HOST/api/v3 for GitHub Enterprise.")
    if url.scheme == "http" and not _loopback(url.host):
        raise ConfigError(f"github_api_url {api_url!r} is plain HTTP: the token would cross "
                          "the network unencrypted. Use its https:// address.")
    return api_url.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "0")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0


def _errors(response: httpx.Response) -> tuple[str, list[str]]:
    """GitHub's message and its list of errors, as text."""
    try:
        doc = response.json()
    except ValueError:
        return (" ".join(response.text.split())[:300] or response.reason_phrase), []
    if not isinstance(doc, dict):
        return response.reason_phrase, []
    errors: list[str] = []
    for error in doc.get("errors") or ():
        if isinstance(error, str):
            errors.append(error)
        elif isinstance(error, dict):
            errors.append(str(error.get("message") or " ".join(
                str(error[k]) for k in ("resource", "field", "code") if error.get(k))))
    return str(doc.get("message") or response.reason_phrase), errors


def _github_message(response: httpx.Response) -> str:
    """GitHub's message with its errors, on one line, at most 500 characters."""
    message, errors = _errors(response)
    text = " ".join(f"{message}{': ' if errors else ''}{'; '.join(errors)}".split())
    return text if len(text) <= 500 else text[:499] + "…"


def _already_exists(response: httpx.Response) -> bool:
    message, errors = _errors(response)
    return any("pull request already exists" in e.lower() for e in [message, *errors])


# -- the pull request's title and description ------------------------------------------


def pr_title(proposals: Sequence[Proposal]) -> str:
    """``[pgarchitect] <summary>``: one proposal's title, or how many changes on which
    tables; at most MAX_TITLE characters.

    >>> from pgarchitect.proposal import Proposal
    >>> def index(table: str) -> Proposal:
    ...     return Proposal("index", f"index on {table} (a)", (table, f"{table}_a_idx"),
    ...                     "CREATE INDEX ...", "DROP INDEX ...", [], "")
    >>> pr_title([index("public.orders")])
    '[pgarchitect] index on public.orders (a)'
    >>> pr_title([index("public.orders"), index("public.users"), index("public.orders")])
    '[pgarchitect] 3 index changes on public.orders, public.users'
    """
    if not proposals:
        raise ValueError("a pull request needs at least one proposal")
    prefix = "[pgarchitect] "
    if len(proposals) == 1:
        summary = proposals[0].title
    else:
        kinds = {p.kind for p in proposals}
        what = f"{len(proposals)} {kinds.pop()} changes" if len(kinds) == 1 else (
            f"{len(proposals)} changes")
        tables = list(dict.fromkeys(p.objects[0] for p in proposals if p.objects))
        summary = what
        for shown in range(len(tables), 0, -1):
            more = len(tables) - shown
            summary = f"{what} on {', '.join(tables[:shown])}" + (
                f" and {more} more" if more else "")
            if len(prefix) + len(" ".join(summary.split())) <= MAX_TITLE:
                break
    title = prefix + " ".join(summary.split())
    return title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…"


def pr_body(proposals: Sequence[Proposal], *,
            similar: Mapping[str, Sequence[str]] = _NOTHING,
            plans: Mapping[str, tuple[str, str]] = _NOTHING) -> str:
    """The pull request's description, in Markdown: per proposal its confidence and
    action, gains, statements, the change and its rollback, the reasoning, the plans
    before and after (``plans[query]``, else the measured times and costs), similar past
    cases (``similar[query]``) and the review checklist.

    Nothing from a statement, a plan or a past case can change the page: code goes in
    fences longer than any run of backticks in it, text outside has its HTML and
    Markdown escaped. The description stays under GitHub's limit: plans go first, then
    the last proposals (the migration files on the branch have them all).
    """
    if not proposals:
        raise ValueError("a pull request needs at least one proposal")
    body = _body(proposals, similar, plans)
    if len(body) <= MAX_BODY:
        return body
    left_out = ("The plans are left out: with them this description would pass GitHub's "
                f"limit of {MAX_BODY:,} characters. The measured times and costs are here.")
    for shown in range(len(proposals), 0, -1):
        more = len(proposals) - shown
        note = left_out + (f" {more} more proposal(s) are not shown: see the migration files "
                           "of this branch." if more else "")
        body = _body(proposals[:shown], similar, _NOTHING, note=note, total=len(proposals))
        if len(body) <= MAX_BODY:
            return body
    return body[:MAX_BODY]  # one proposal alone too long: cut (its files have it whole)


def _body(proposals: Sequence[Proposal], similar: Mapping[str, Sequence[str]],
          plans: Mapping[str, tuple[str, str]], *, note: str = "",
          total: int | None = None) -> str:
    count = total or len(proposals)
    parts = [
        f"pgarchitect proposes {count} change{'s' if count != 1 else ''} to the database, "
        "each measured with EXPLAIN ANALYZE before and after. Nothing is applied: merging "
        "and deploying these migrations is the team's decision, and each comes with its "
        "rollback.",
    ]
    if note:
        parts.append(f"_{_text(note)}_")
    for number, proposal in enumerate(proposals, 1):
        parts.append(_section(number, proposal, similar, plans))
    return "\n\n".join(parts) + "\n"


def _section(number: int, p: Proposal, similar: Mapping[str, Sequence[str]],
             plans: Mapping[str, tuple[str, str]]) -> str:
    facts = [f"- **Confidence:** {p.confidence:.0f}% ({_text(describe_action(p.action))})"]
    if p.problem:
        facts.append(f"- **Problem:** {_text(p.problem)}")
    facts.append(f"- **Expected gain:** {_pct(p.estimated_gain)} (planner cost estimate)")
    facts.append(f"- **Measured gain:** {_pct(p.measured_gain)} (median of EXPLAIN ANALYZE "
                 "runs)")
    if p.objects:
        facts.append(f"- **Objects:** {', '.join(_code(o) for o in p.objects)}")
    facts += [f"- **Flag:** {_text(flag)}" for flag in p.flags]
    parts = [f"## {number}. {_text(p.title)}", "\n".join(facts), "### Statements"]
    for i, m in enumerate(p.statements, 1):
        parts.append(f"**Statement {i}:** {_measured(m)}")
        parts.append(_fence(m.query, "sql"))
        if m.after_query:
            parts += ["Run instead after the change:", _fence(m.after_query, "sql")]
    if not p.statements:
        parts.append("None recorded.")
    parts += ["### Recommendation", _fence(p.forward, "sql")]
    if p.new_statement:
        parts += ["The statement to run instead:", _fence(p.new_statement, "sql")]
    parts += ["### Rollback", _fence(p.rollback, "sql"), "### Reasoning"]
    paragraphs = [_text(block) for block in re.split(r"\n\s*\n", p.reasoning) if block.strip()]
    parts += paragraphs or ["None given."]
    if p.evidence:
        parts.append("\n".join(f"- {_text(e)}" for e in p.evidence))
    parts.append(_plans(p.statements, plans))
    cases = list(dict.fromkeys(line for m in p.statements for line in similar.get(m.query, ())))
    parts.append("### Similar past cases")
    parts.append("\n".join(f"- {_text(line)}" for line in cases)
                 if cases else "None in the knowledge base.")
    table = p.objects[0] if p.objects else None
    duplicate = (f"Not a duplicate of an existing index on {_code(table)}"
                 if p.kind == "index" and table else "Not already made another way")
    parts += ["### Review checklist", "\n".join([
        f"- [ ] {duplicate}",
        "- [ ] Tried on staging first",
        "- [ ] Latency watched after deploy (the next audit measures it too)",
    ])]
    return "\n\n".join(parts)


def _plans(statements: Sequence[Measurement], plans: Mapping[str, tuple[str, str]]) -> str:
    """The plans before and after, folded in a <details> element."""
    parts = ["<details>\n<summary>EXPLAIN ANALYZE before and after</summary>"]
    for i, m in enumerate(statements, 1):
        if m.query in plans:
            before, after = plans[m.query]
            parts += [f"**Statement {i}, before:**", _fence(_cap(before), "text"),
                      f"**Statement {i}, after:**", _fence(_cap(after), "text")]
        else:
            parts += [f"**Statement {i}:**", _fence(_runs(m), "text")]
    if not statements:
        parts.append("No statement was measured.")
    parts.append("</details>")
    return "\n\n".join(parts)


def _runs(m: Measurement) -> str:
    """What was measured of one statement, when its plans are not at hand (the parameter
    values are left out: they are the database's data)."""
    lines = []
    for when, runs, median, cost in (("before", m.before_ms, m.median_before, m.cost_before),
                                     ("after", m.after_ms, m.median_after, m.cost_after)):
        line = f"{when + ':':8}"
        line += (f"median {_ms(median)} over {len(runs)} run(s)" if median is not None
                 else "not run")
        if cost is not None:
            line += f", planner cost {cost:,.2f}"
        lines.append(line)
    if m.parameter_sets > 1:
        lines.append(f"parameter sets: {m.parameter_sets}"
                     + (f" ({', '.join(dict.fromkeys(m.origins))})" if m.origins else ""))
    lines.append(f"the plan after uses the change: {'yes' if m.uses_change else 'no'}")
    if m.reason:
        lines.append(f"not measured: {m.reason}")
    return "\n".join(lines)


def _measured(m: Measurement) -> str:
    if m.median_before is not None and m.median_after is not None:
        gain = m.gain
        change = f", {_pct(gain)} faster" if gain is not None and gain >= 0 else (
            f", {_pct(-gain)} slower" if gain is not None else "")
        return f"{_ms(m.median_before)} → {_ms(m.median_after)} (median){change}"
    if m.estimated_gain is not None:
        return f"not run, {_pct(m.estimated_gain)} by planner cost"
    return _text(f"not measured: {m.reason}") if m.reason else "not measured"


def _pct(value: float | None) -> str:
    return "not known" if value is None else f"{value * 100:.0f}%"


def _ms(value: float) -> str:
    return (f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1
            else f"{value:.2f} ms")


def _cap(text: str) -> str:
    if len(text) <= MAX_PLAN:
        return text
    return f"{text[:MAX_PLAN]}\n… ({len(text) - MAX_PLAN:,} more characters)"


# -- Markdown that text cannot break out of


def _fence(text: str, info: str = "") -> str:
    """A fenced code block of ``text``: the fence is longer than any run of backticks in
    it, so no line of ``text`` can close it.

    >>> print(_fence("SELECT '```'", "sql"))
    ````sql
    SELECT '```'
    ````
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _code(text: str) -> str:
    """An inline code span of ``text`` (on one line), whatever backticks it has.

    >>> _code("a`b"), _code("`x`")
    ('``a`b``', '`` `x` ``')
    """
    text = " ".join(text.split())
    if not text:
        return "(empty)"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_INLINE = re.compile(r"([\\`*_\[\]()!|~])")


def _text(text: str) -> str:
    """``text`` as one line of Markdown that shows it literally: HTML escaped, Markdown's
    marks escaped, mentions and issue references neutralized (no one is notified).

    >>> _text("</details><script>x</script> *bold* @alice #12")
    '&lt;/details&gt;&lt;script&gt;x&lt;/script&gt; \\\\*bold\\\\* @&#8203;alice #&#8203;12'
    >>> _text("1. first"), _text("- item"), _text("# head")
    ('1\\\\. first', '\\\\- item', '\\\\# head')
    """
    text = html.escape(" ".join(text.split()), quote=False)
    text = _INLINE.sub(r"\\\1", text)
    text = re.sub(r"([@#])(?=\w)", r"\1&#8203;", text)
    # what would start a block at the start of a line: a list, a heading, a rule
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)
    return re.sub(r"^([-+=#])", r"\\\1", text)

