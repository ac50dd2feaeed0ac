"""The demo platform's traffic: its API's calls, played with realistic parameters.

Each round plays a fixed mix of calls in a shuffled order; frequent calls run
several times a round, the heavy reports every few rounds. Parameters come from
the loaded data: sampled users (light and heavy), their e-mails in mixed letter
case, words of real course titles. The same seed on the same data plays the
same calls. A run is bounded by its rounds and by a time budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import psycopg

from pgarchitect.db import TAG
from pgarchitect.demo.app import Event, LearningPlatform
from pgarchitect.demo.data import EVENT_TYPES, EVENT_WEIGHTS, ProgressFn
from pgarchitect.errors import DemoError

# Setup queries are pgarchitect's, not the platform's: tagged so audits skip them.
SAMPLE_USERS: Final = TAG + """\
SELECT id, email FROM "User" ORDER BY md5(id::text || %s) LIMIT %s"""
HEAVY_USERS: Final = TAG + """\
SELECT "userId" FROM "BehaviorLog" GROUP BY "userId" ORDER BY count(*) DESC, "userId" LIMIT %s"""
SAMPLE_COURSES: Final = TAG + """\
SELECT id, title FROM "Course" ORDER BY md5(id::text || %s) LIMIT %s"""

# (call, times per round, every n-th round). At the default 500 rounds every call
# runs at least 100 times; a round takes about 0.12 s on 50k users and 2M events
# (2 cores), so the default run lasts about a minute.
MIX: Final[tuple[tuple[str, int, int], ...]] = (
    ("user_by_id", 4, 1),
    ("user_by_email", 2, 1),
    ("recent_activity", 4, 1),
    ("user_events_of_type", 1, 1),
    ("search_courses", 2, 1),
    ("enrollments_of_user", 1, 1),
    ("course_progress", 1, 1),
    ("quiz_stats", 1, 1),
    ("logs_page", 1, 1),
    ("log_events", 1, 1),
    ("weekly_active_users", 1, 4),
    ("event_counts_per_day", 1, 5),
)
DEFAULT_ROUNDS: Final = 500
DEFAULT_MAX_SECONDS: Final = 120.0

# Share of user-centred calls that are for one of the heaviest users.
HEAVY_SHARE: Final = 0.25


@dataclass
class CallStats:
    """Client-side timings of one kind of call."""

    calls: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    rows: int = 0

    @property
    def mean_ms(self) -> float:
        """Mean duration of a call, in milliseconds."""
        return self.total_ms / self.calls if self.calls else 0.0

    def add(self, ms: float, rows: int) -> None:
        """Record one call."""
        self.calls += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)
        self.rows += rows


@dataclass
class TrafficSummary:
    """What a traffic run played."""

    calls: dict[str, CallStats] = field(default_factory=dict)
    rounds: int = 0
    elapsed_s: float = 0.0
    events_logged: int = 0
    stopped_early: bool = False  # the time budget ran out before the last round

    @property
    def total_calls(self) -> int:
        """Calls of every kind."""
        return sum(s.calls for s in self.calls.values())


@dataclass(frozen=True)
class _Pools:
    """Parameters drawn from the loaded data."""

    users: list[tuple[UUID, str]]
    heavy: list[UUID]
    courses: list[UUID]
    words: list[str]


def _pools(conn: psycopg.Connection[Any], seed: int) -> _Pools:
    try:
        users = [(r[0], r[1]) for r in conn.execute(SAMPLE_USERS, (str(seed), 1_000))]
        heavy = [r[0] for r in conn.execute(HEAVY_USERS, (20,))]
        courses = conn.execute(SAMPLE_COURSES, (str(seed), 500)).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise DemoError(
            "The demo tables are missing: load the demo data first (`pgarchitect demo`)."
        ) from exc
    if not users or not courses:
        raise DemoError("The demo tables are empty: load the demo data first (`pgarchitect demo`).")
    # Search terms as people type them: whole words and word beginnings, any case.
    words = sorted({w.strip("()-").lower() for _, title in courses for w in title.split()
                    if len(w.strip("()-")) >= 4})
    return _Pools(users, heavy or [users[0][0]], [c[0] for c in courses], words)


def _cased(email: str, rng: random.Random) -> str:
    """The address as a user might type it into the login form."""
    local, _, domain = email.partition("@")
    return rng.choice((
        email, email.lower(), email.upper(), f"{local.capitalize()}@{domain}",
        f"{local.title()}@{domain.upper()}",
    ))


class _Player:
    """Draws the parameters of each call and makes it."""

    def __init__(self, app: LearningPlatform, pools: _Pools, rng: random.Random) -> None:
        self.app, self.pools, self.rng = app, pools, rng
        self.logged = 0

    def user(self) -> UUID:
        if self.rng.random() < HEAVY_SHARE:
            return self.rng.choice(self.pools.heavy)
        return self.rng.choice(self.pools.users)[0]

    def call(self, name: str) -> int:
        """Make one call; returns the number of rows it returned or wrote."""
        app, rng, pools = self.app, self.rng, self.pools
        if name == "user_by_id":
            return int(app.user_by_id(self.user()) is not None)
        if name == "user_by_email":
            email = rng.choice(pools.users)[1]
            return int(app.user_by_email(_cased(email, rng)) is not None)
        if name == "recent_activity":
            return len(app.recent_activity(self.user(), rng.choice((10, 20, 20, 50))))
        if name == "user_events_of_type":
            since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=rng.randint(7, 60))
            kind = rng.choices(EVENT_TYPES, EVENT_WEIGHTS)[0]
            return len(app.user_events_of_type(self.user(), kind, since))
        if name == "search_courses":
            word = rng.choice(pools.words)
            term = word[: rng.randint(4, len(word))]
            return len(app.search_courses(term if rng.random() < 0.7 else term.capitalize()))
        if name == "enrollments_of_user":
            return len(app.enrollments_of_user(self.user()))
        if name == "course_progress":
            return app.course_progress(rng.choice(pools.courses)).enrolled
        if name == "quiz_stats":
            return len(app.quiz_stats(self.user()))
        if name == "logs_page":
            # Admins mostly read the first pages; some page deep into history.
            page = rng.randint(1, 10) if rng.random() < 0.6 else rng.randint(10, 2_000)
            return len(app.logs_page(page, rng.choice((20, 50, 100))))
        if name == "log_events":
            kinds = rng.choices(EVENT_TYPES, EVENT_WEIGHTS, k=rng.randint(20, 200))
            device = rng.choice(("web", "ios", "android"))
            rows = app.log_events(
                Event(self.user(), kind, {"source": "traffic", "device": device})
                for kind in kinds
            )
            self.logged += rows
            return rows
        if name == "weekly_active_users":
            return len(app.weekly_active_users())
        if name == "event_counts_per_day":
            return len(app.event_counts_per_day(rng.choice((7, 14, 30))))
        raise ValueError(f"Unknown call {name!r}")


def run(
    conninfo: str,
    *,
    seed: int = 7,
    rounds: int = DEFAULT_ROUNDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    progress: ProgressFn | None = None,
) -> TrafficSummary:
    """Play ``rounds`` rounds of the platform's calls against the demo database.

    Stops early, with ``stopped_early`` set, once ``max_seconds`` have passed.
    ``progress`` is called as ``progress("traffic", calls_done, calls_planned)``.
    """
    rng = random.Random(seed)
    planned = sum(times * len(range(0, rounds, every)) for _, times, every in MIX)
    report: Callable[[str, int, int], None] = progress or (lambda label, done, total: None)
    summary = TrafficSummary(calls={name: CallStats() for name, _, _ in MIX})
    started = time.perf_counter()
    with LearningPlatform.connect(conninfo) as app:
        player = _Player(app, _pools(app.conn, seed), rng)
        done = 0
        report("traffic", 0, planned)
        for round_no in range(rounds):
            plan = [name for name, times, every in MIX if round_no % every == 0
                    for _ in range(times)]
            rng.shuffle(plan)
            for name in plan:
                if time.perf_counter() - started > max_seconds:
                    summary.stopped_early = True
                    break
                t0 = time.perf_counter()
                rows = player.call(name)
                summary.calls[name].add((time.perf_counter() - t0) * 1000, rows)
                done += 1
                report("traffic", done, planned)
            if summary.stopped_early:
                break
            summary.rounds = round_no + 1
        summary.events_logged = player.logged
    summary.elapsed_s = time.perf_counter() - started
    return summary
