"""The pull request, against a local HTTP server that plays GitHub's REST API.

The server checks every request as GitHub would (the bearer token, the media type, the
API version, the fields of each body) and records it; a scenario can make it fail.
The description is read back with a CommonMark parser (markdown-it-py).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest
from markdown_it import MarkdownIt
from support.github import BRANCH, PULLS, REPO, TOKEN, FakeGitHub, fake_github

from pgarchitect.delivery.github import (
    LABELS,
    MAX_BODY,
    MAX_TITLE,
    GitHub,
    GitHubError,
    pr_body,
    pr_title,
)
from pgarchitect.errors import ConfigError
from pgarchitect.proposal import Measurement, Proposal


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with fake_github() as server:
        yield server


@pytest.fixture
def hub(fake: FakeGitHub) -> Iterator[GitHub]:
    with GitHub(REPO, TOKEN, api_url=fake.url, backoff=0.05) as client:
        yield client


def proposal(table: str = "public.orders", *, query: str | None = None,
             reasoning: str = "The statement reads 1.2M rows to return 20.") -> Proposal:
    query = query or f"SELECT id, total FROM {table} WHERE customer_id = $1 LIMIT 20"
    name = f"{table}_customer_id_idx"
    return Proposal(
        kind="index", title=f"index on {table} (customer_id)", objects=(table, name),
        forward=f"CREATE INDEX CONCURRENTLY {name.split('.')[-1]} ON {table} (customer_id);",
        rollback=f"DROP INDEX CONCURRENTLY {name};",
        statements=[Measurement(query, before_ms=(12.0, 12.4, 11.8), after_ms=(2.0, 2.1, 1.9),
                                uses_change=True, estimated_gain=0.85, cost_before=24512.5,
                                cost_after=8.44)],
        reasoning=reasoning, problem="A sequential scan of orders for one customer.",
        estimated_gain=0.85, measured_gain=0.83, confidence=92.0,
        evidence=["Seq Scan on orders: 1,200,000 rows read, 20 returned"])


# -- the API


def test_a_pull_request_is_opened_and_labelled(fake: FakeGitHub, hub: GitHub) -> None:
    proposals = [proposal()]
    title, body = pr_title(proposals), pr_body(proposals)
    pr = hub.open_pr(BRANCH, "main", title, body, LABELS)
    assert pr.number == 7 and pr.url == f"https://github.com/{REPO}/pull/7"
    assert pr.state == "open" and not pr.existing and pr.notes == ()
    opened, labelled = fake.requests
    assert (opened.method, opened.path) == ("POST", PULLS)
    assert opened.body == {"title": title, "head": BRANCH, "base": "main", "body": body}
    assert (labelled.method, labelled.path) == ("POST", f"/repos/{REPO}/issues/7/labels")
    assert labelled.body == {"labels": ["database", "ai-generated", "optimization"]}
    assert [label["name"] for label in fake.pulls[7]["labels"]] == list(LABELS)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.requests)


def test_an_open_pull_request_is_found_and_nothing_is_posted(fake: FakeGitHub,
                                                             hub: GitHub) -> None:
    number = fake.add_pull(BRANCH)
    fake.add_pull("someone/else")
    pr = hub.find_open(BRANCH) or hub.open_pr(BRANCH, "main", "t", "b")
    assert pr.number == number and pr.existing and pr.state == "open"
    assert fake.seen("POST") == []
    [lookup] = fake.requests
    assert lookup.path == PULLS
    assert lookup.query == {"state": ["open"], "head": [f"acme:{BRANCH}"]}
    assert hub.find_open("pgarchitect/2026-12-08-ffffff") is None


def test_already_exists_returns_the_open_one(fake: FakeGitHub, hub: GitHub) -> None:
    number = fake.add_pull(BRANCH)
    pr = hub.open_pr(BRANCH, "main", "[pgarchitect] t", "body")
    assert pr.number == number and pr.existing
    assert [(r.method, r.path) for r in fake.requests] == [("POST", PULLS), ("GET", PULLS)]
    assert fake.pulls[number]["labels"] == []  # someone else's labels are left alone


def test_a_validation_error_says_what_github_said(fake: FakeGitHub, hub: GitHub) -> None:
    with pytest.raises(GitHubError) as caught:
        hub.open_pr("pgarchitect/never-pushed", "main", "t", "b")
    message = str(caught.value)
    assert "HTTP 422: Validation Failed: PullRequest head invalid" in message
    assert "check that the branch was pushed" in message
    with pytest.raises(GitHubError, match="No commits between main and main"):
        hub.open_pr("main", "main", "t", "b")
    assert len(fake.seen("POST", PULLS)) == 2  # a refusal is not retried
    assert TOKEN not in message and TOKEN not in repr(caught.value)


def test_server_errors_are_retried_with_backoff(fake: FakeGitHub, hub: GitHub) -> None:
    fake.fail("POST", PULLS, 500, {"message": "Server Error"}, times=2)
    started = time.monotonic()
    pr = hub.open_pr(BRANCH, "main", "t", "b")
    assert time.monotonic() - started >= 0.05 + 0.1  # backoff 0.05 s, then 0.1 s
    assert pr.number == 7 and not pr.existing
    assert len(fake.seen("POST", PULLS)) == 3
    assert len(fake.seen("POST", f"/repos/{REPO}/issues/7/labels")) == 1


def test_a_server_that_keeps_failing_is_a_clear_error_without_the_token(
        fake: FakeGitHub, hub: GitHub) -> None:
    # A server that echoes the credentials back: they must not reach the message.
    fake.fail("POST", PULLS, 502, {"message": f"Bad gateway for Bearer {TOKEN}"}, times=10)
    with pytest.raises(GitHubError) as caught:
        hub.open_pr(BRANCH, "main", "t", "b")
    message = str(caught.value)
    assert message.startswith(f"GitHub did not answer POST {PULLS} after 3 attempt(s) "
                              "(last: HTTP 502: Bad gateway for Bearer ****)"), message
    assert "githubstatus.com" in message
    assert len(fake.seen("POST", PULLS)) == 3
    for text in (message, repr(caught.value), repr(hub), str(hub)):
        assert TOKEN not in text
    assert repr(hub) == f"GitHub(repo='{REPO}', api_url='{fake.url}', token='****')"


def test_network_failures_are_retried_then_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GitHub(REPO, TOKEN, api_url=f"http://127.0.0.1:{port}", retries=1, backoff=0.01)
    with client, pytest.raises(GitHubError, match=r"after 2 attempt\(s\) \(last: ConnectError"):
        client.status(7)


def test_a_slow_server_times_out(fake: FakeGitHub) -> None:
    fake.delay = 0.5
    with GitHub(REPO, TOKEN, api_url=fake.url, timeout=0.1, retries=1, backoff=0.01) as client, \
            pytest.raises(GitHubError, match=r"after 2 attempt\(s\) \(last: ReadTimeout"):
        client.status(7)


def test_status_open_merged_closed(fake: FakeGitHub, hub: GitHub) -> None:
    opened = fake.add_pull("a")
    merged = fake.add_pull("b", state="closed", merged=True)
    closed = fake.add_pull("c", state="closed")
    assert [hub.status(n) for n in (opened, merged, closed)] == ["open", "merged", "closed"]
    assert [r.path for r in fake.requests] == [f"{PULLS}/{n}" for n in (opened, merged, closed)]
    with pytest.raises(GitHubError, match=r"HTTP 404: Not Found\): the repository acme/shop or "
                                          "the pull request does not exist"):
        hub.status(999)


def test_a_refused_token_is_named_not_shown(fake: FakeGitHub) -> None:
    wrong = "ghp_SomeOtherToken42"
    with GitHub(REPO, wrong, api_url=fake.url) as client, pytest.raises(
            GitHubError, match=r"HTTP 401: Bad credentials.*GITHUB_TOKEN") as caught:
        client.status(7)
    assert wrong not in str(caught.value) and wrong not in repr(client)
    assert len(fake.requests) == 1  # a refusal is not retried


def test_labels_that_cannot_be_added_are_a_note(fake: FakeGitHub, hub: GitHub) -> None:
    fake.fail("POST", f"/repos/{REPO}/issues/7/labels", 403,
              {"message": "Resource not accessible by personal access token"})
    pr = hub.open_pr(BRANCH, "main", "t", "b")
    assert pr.number == 7
    [note] = pr.notes
    assert note.startswith("The labels were not added: GitHub refused POST ")
    assert "HTTP 403: Resource not accessible by personal access token" in note


@pytest.mark.parametrize(("repo", "token", "api_url", "error"), [
    ("shop", TOKEN, "https://api.github.com", "github_repo 'shop' is not of the form"),
    (REPO, "", "https://api.github.com", "github_token is empty"),
    (REPO, TOKEN + "\nX-Other: 1", "https://api.github.com", "characters a GitHub token never"),
    (REPO, TOKEN, "http://github.example.com/api/v3", "is plain HTTP"),
    (REPO, TOKEN, "ftp://github.example.com", "is not an http"),
])
def test_bad_settings_are_refused(repo: str, token: str, api_url: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error) as caught:
        GitHub(repo, token, api_url=api_url)
    assert not token or token not in str(caught.value)


# -- the title and the description


def test_the_title() -> None:
    assert pr_title([proposal()]) == "[pgarchitect] index on public.orders (customer_id)"
    assert pr_title([proposal(), proposal("public.users")]) == (
        "[pgarchitect] 2 index changes on public.orders, public.users")
    many = [proposal(f"analytics.a_rather_long_table_name_number_{i:02}") for i in range(30)]
    title = pr_title(many)
    assert len(title) <= MAX_TITLE
    assert re.fullmatch(r"\[pgarchitect\] 30 index changes on analytics\.a_rather.*, "
                        r"analytics\.a_rather_long_table_name_number_\d\d and \d+ more", title)
    assert len(pr_title([proposal(query="x", reasoning="y")] * 1)) <= MAX_TITLE
    long = proposal()
    long.title = "index " + "x" * 400
    assert len(pr_title([long])) == MAX_TITLE and pr_title([long]).endswith("…")


def test_the_description_has_everything_a_reviewer_needs() -> None:
    p = proposal()
    body = pr_body([p], similar={p.statements[0].query: ["finding 1a2b3c4d (solved): the "
                                                         "same index on public.orders_2025"]})
    for expected in [
        "- **Confidence:** 92% (PR, recommend immediate merge)",
        "- **Expected gain:** 85% (planner cost estimate)",
        "- **Measured gain:** 83% (median of EXPLAIN ANALYZE runs)",
        "**Statement 1:** 12.0 ms → 2.0 ms (median), 83% faster",
        f"```sql\n{p.statements[0].query}\n```",
        f"### Recommendation\n\n```sql\n{p.forward}\n```",
        f"### Rollback\n\n```sql\n{p.rollback}\n```",
        "### Reasoning\n\nThe statement reads 1.2M rows to return 20.",
        "<details>\n<summary>EXPLAIN ANALYZE before and after</summary>",
        "before: median 12.0 ms over 3 run(s), planner cost 24,512.50",
        "after:  median 2.0 ms over 3 run(s), planner cost 8.44",
        "the plan after uses the change: yes",
        "- finding 1a2b3c4d \\(solved\\): the same index on public.orders\\_2025",
        "- [ ] Not a duplicate of an existing index on `public.orders`",
        "- [ ] Tried on staging first",
        "- [ ] Latency watched after deploy",
    ]:
        assert expected in body, expected
    tokens = MarkdownIt("commonmark").parse(body)
    items = [t.content for t in tokens if t.type == "inline"]
    assert "[ ] Tried on staging first" in items  # a task-list item: GitHub's checkbox


def test_plans_when_given_are_shown_in_the_details() -> None:
    p = proposal()
    before = "Limit (actual 11.9 ms)\n  Seq Scan on orders (rows 1200000)"
    after = "Limit (actual 1.9 ms)\n  Index Scan using orders_customer_id_idx on orders"
    body = pr_body([p], plans={p.statements[0].query: (before, after)})
    details = body[body.index("<details>"):body.index("</details>")]
    assert f"**Statement 1, before:**\n\n```text\n{before}\n```" in details
    assert f"**Statement 1, after:**\n\n```text\n{after}\n```" in details
    assert "median 12.0 ms over 3 run(s)" not in details


def test_statement_text_cannot_break_out() -> None:
    """Backticks, HTML and mentions in statements, plans, reasoning and past cases: the
    page shows them as text, and the only HTML it has is its own <details>."""
    evil = ("SELECT '```' AS fence, '````' AS longer, '</details><script>alert(1)</script>'"
            " FROM orders WHERE note = '@alice #12 <img src=x onerror=alert(2)>'")
    p = proposal(query=evil, reasoning="It </details> ends <script>x()</script> here, "
                                       "**bold** [link](javascript:alert(3)) @bob\n\n1. one")
    p.flags = ["<b>flag</b>"]
    plan = ("Seq Scan\n```\n</details>\n<script>alert(4)</script>", "Index Scan\n`````")
    body = pr_body([p, proposal("public.users")], plans={evil: plan},
                   similar={evil: ["</details><script>alert(5)</script> @carol"]})
    md = MarkdownIt("commonmark")
    tokens = md.parse(body)
    fences = [(t.info, t.content) for t in tokens if t.type == "fence"]
    assert ("sql", evil + "\n") in fences
    assert ("text", plan[0] + "\n") in fences and ("text", plan[1] + "\n") in fences
    html_parts = [t.content.strip() for t in tokens if t.type == "html_block"]
    html_parts += [c.content for t in tokens if t.type == "inline" for c in t.children or ()
                   if c.type == "html_inline"]
    own = ["<details>\n<summary>EXPLAIN ANALYZE before and after</summary>", "</details>"]
    assert html_parts == own * 2
    page = md.render(body)
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert 'href="javascript' not in page and "<strong>bold" not in page
    assert page.count("<details>") == page.count("</details>") == 2
    text = re.sub(r"<code[^>]*>.*?</code>", "", page, flags=re.DOTALL)  # code: not linked
    for mention in ("@alice", "@bob", "@carol", "#12"):
        assert mention not in text, mention
    assert "<ol>" not in page  # "1. one" in the reasoning stays a paragraph


def test_a_long_description_stays_under_githubs_limit() -> None:
    proposals = [proposal(f"public.t{i}") for i in range(3)]
    plans = {p.statements[0].query: ("x" * 30000, "y" * 30000) for p in proposals}
    body = pr_body(proposals, plans=plans)
    assert len(body) <= MAX_BODY
    assert "The plans are left out" in body and "## 3. index on public.t2" in body
    many = [proposal(f"public.t{i}", reasoning="r" * 5000) for i in range(40)]
    body = pr_body(many)
    assert len(body) <= MAX_BODY
    assert re.search(r"\d+ more proposal\\\(s\\\) are not shown", body)
    assert "pgarchitect proposes 40 changes" in body
