"""Deterministic demo data for the education platform, and its loader.

The rows are a pure function of a :class:`Scale` (which holds the seed) and an
anchor time: the newest event happens at the anchor, the oldest ``days`` before.
They are generated with numpy, vectorised, as COPY text in chunks, so the loader
streams them into PostgreSQL while the next chunk is being built, and
:func:`digest` hashes exactly the bytes the loader sends.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Final

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from pgarchitect.errors import DemoError

ProgressFn = Callable[[str, int, int], None]
"""Called as ``progress(label, done, total)`` while a long step runs."""

TABLES: Final = ("User", "Course", "Lesson", "Enrollment", "QuizAttempt", "BehaviorLog")
COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "User": ("id", "email", "name", "role", "createdAt"),
    "Course": ("id", "title", "description", "category", "authorId", "isPublished", "createdAt"),
    "Lesson": ("id", "courseId", "title", "position", "durationSec", "createdAt"),
    "Enrollment": ("id", "userId", "courseId", "progress", "status", "enrolledAt"),
    "QuizAttempt": ("id", "userId", "lessonId", "score", "attemptedAt"),
    "BehaviorLog": ("id", "userId", "eventType", "metadata", "timestamp"),
}

# Rows per COPY chunk: big enough that per-chunk overhead vanishes, small enough
# that the server parses one chunk while the next is built (about 15 MB of text).
CHUNK_ROWS: Final = 100_000

MS_PER_DAY: Final = 86_400_000

EVENT_TYPES: Final = (
    "page_view", "video_play", "video_pause", "login", "search",
    "lesson_complete", "quiz_submit", "course_enroll", "logout",
)
# Most events are page views and video plays; enrolments and logouts are rare.
EVENT_WEIGHTS: Final = (0.42, 0.18, 0.08, 0.08, 0.07, 0.07, 0.06, 0.02, 0.02)

# Activity by hour of the day in Vietnam (UTC+7): evenings after school and work.
_LOCAL_HOUR_WEIGHTS: Final = (
    1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 5, 5, 6, 5, 5, 5, 6, 7, 8, 10, 11, 10, 7, 3,
)
_UTC_OFFSET_HOURS: Final = 7

# Share of users by role.
ROLES: Final = ("student", "instructor", "admin")
ROLE_WEIGHTS: Final = (0.972, 0.025, 0.003)

_FAMILY: Final = (
    ("Nguyễn", "阮"), ("Trần", "陈"), ("Lê", "黎"), ("Phạm", "范"), ("Hoàng", "黄"),
    ("Huỳnh", "黄"), ("Phan", "潘"), ("Vũ", "武"), ("Võ", "武"), ("Đặng", "邓"),
    ("Bùi", "裴"), ("Đỗ", "杜"), ("Hồ", "胡"), ("Ngô", "吴"), ("Dương", "杨"), ("Lý", "李"),
)
_MIDDLE: Final = (
    ("Văn", "文"), ("Thị", "氏"), ("Minh", "明"), ("Đức", "德"), ("Ngọc", "玉"),
    ("Thanh", "清"), ("Hữu", "有"), ("Quang", "光"),
)
_GIVEN: Final = (
    ("An", "安"), ("Bình", "平"), ("Châu", "珠"), ("Dũng", "勇"), ("Giang", "江"),
    ("Hà", "河"), ("Hải", "海"), ("Hạnh", "幸"), ("Hiếu", "孝"), ("Hoa", "花"),
    ("Hùng", "雄"), ("Huy", "辉"), ("Khánh", "庆"), ("Lan", "兰"), ("Linh", "灵"),
    ("Long", "龙"), ("Mai", "梅"), ("Nam", "南"), ("Ngân", "银"), ("Phúc", "福"),
    ("Quân", "军"), ("Sơn", "山"), ("Tâm", "心"), ("Thảo", "草"), ("Trang", "妆"),
    ("Trung", "忠"), ("Tú", "秀"), ("Vy", "薇"), ("Yến", "燕"),
)
_EMAIL_DOMAINS: Final = ("mail.example.com", "example.edu.vn", "student.example.org")

# (topic, category): course titles are "<prefix> <topic><suffix>".
_TOPICS: Final = (
    ("Python Programming", "programming"), ("Data Science", "data"),
    ("Machine Learning", "data"), ("Web Development", "programming"),
    ("SQL and Databases", "data"), ("PostgreSQL Performance", "data"),
    ("React and TypeScript", "programming"), ("Mobile Apps with Flutter", "programming"),
    ("Cloud Computing", "it"), ("Cybersecurity", "it"), ("English Grammar", "languages"),
    ("IELTS Writing", "languages"), ("TOEIC Listening", "languages"),
    ("Vietnamese for Foreigners", "languages"), ("Chinese HSK 3", "languages"),
    ("Japanese N5", "languages"), ("Korean TOPIK I", "languages"), ("Calculus", "math"),
    ("Linear Algebra", "math"), ("Statistics", "math"), ("Physics for Engineers", "science"),
    ("Organic Chemistry", "science"), ("Digital Marketing", "business"),
    ("Accounting", "business"), ("Project Management", "business"),
    ("Personal Finance", "business"), ("Graphic Design", "design"),
    ("Photography", "design"), ("Music Theory", "music"), ("Guitar", "music"),
)
_PREFIXES: Final = (
    "Introduction to", "Advanced", "Mastering", "Practical", "Fundamentals of",
    "The Complete Guide to", "Hands-on", "Applied",
)
_SUFFIXES: Final = ("", "", "", " for Beginners", " in 30 Days", " Bootcamp", " (2024 Edition)",
                    " - Part 2", " Masterclass")
_LESSON_WORDS: Final = (
    "Overview", "Setup", "Core Concepts", "Worked Example", "Exercises", "Case Study",
    "Common Mistakes", "Review", "Project", "Quiz Preparation", "Deep Dive", "Summary",
)
_DEVICES: Final = ("web", "ios", "android", "web", "web", "android")
_SEARCH_TERMS: Final = (
    "python", "ielts", "sql", "excel", "toeic", "react", "guitar", "calculus",
    "machine learning", "tiếng anh", "hsk", "marketing", "data", "flutter", "design",
)
# Size of the pool of distinct metadata documents per event type.
_METADATA_POOL: Final = 2_048

_UUID_HEX_POS: Final = [i for i in range(36) if i not in (8, 13, 18, 23)]
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Scale:
    """How much data to generate, and the seed that makes it reproducible."""

    users: int = 50_000
    behavior_logs: int = 2_000_000
    courses: int = 20_000
    lessons_per_course: int = 8
    enrollments: int = 300_000
    quiz_attempts: int = 400_000
    days: int = 180
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("users", "courses", "lessons_per_course", "days"):
            if getattr(self, name) < 1:
                raise DemoError(f"Scale.{name} must be at least 1.")
        for name in ("behavior_logs", "enrollments", "quiz_attempts"):
            if getattr(self, name) < 0:
                raise DemoError(f"Scale.{name} must not be negative.")
        # Each (user, course) pair enrols once; leave room for the skewed draw.
        if self.enrollments > self.users * self.courses // 4:
            raise DemoError(
                f"Scale.enrollments={self.enrollments} is too many for {self.users} users "
                f"and {self.courses} courses: at most {self.users * self.courses // 4}."
            )
        if self.quiz_attempts and not self.enrollments:
            raise DemoError("Quiz attempts need enrollments: set Scale.enrollments > 0.")

    @classmethod
    def small(cls, seed: int = 42) -> Scale:
        """A scale for tests: loads in about a second."""
        return cls(users=2_000, behavior_logs=60_000, courses=400, lessons_per_course=6,
                   enrollments=8_000, quiz_attempts=10_000, seed=seed)

    def rows(self) -> dict[str, int]:
        """Rows each table gets, in load order."""
        return {
            "User": self.users,
            "Course": self.courses,
            "Lesson": self.courses * self.lessons_per_course,
            "Enrollment": self.enrollments,
            "QuizAttempt": self.quiz_attempts,
            "BehaviorLog": self.behavior_logs,
        }


@dataclass(frozen=True)
class Chunk:
    """A piece of one table's rows in COPY text format."""

    table: str
    text: str
    rows: int


# --- helpers -----------------------------------------------------------------------


def normalize_anchor(anchor: datetime) -> datetime:
    """``anchor`` as a naive UTC time to the millisecond, as Prisma stores ``DateTime``.

    >>> from datetime import timezone, timedelta
    >>> normalize_anchor(datetime(2025, 1, 1, 7, 0, 0, 123456, timezone(timedelta(hours=7))))
    datetime.datetime(2025, 1, 1, 0, 0, 0, 123000)
    """
    if anchor.tzinfo is not None:
        anchor = anchor.astimezone(UTC).replace(tzinfo=None)
    return anchor.replace(microsecond=anchor.microsecond // 1000 * 1000)


def copy_escape(text: str) -> str:
    r"""``text`` escaped for PostgreSQL's COPY text format.

    >>> copy_escape('a\tb\\c\nd')
    'a\\tb\\\\c\\nd'
    """
    return (text.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def _ascii(text: str) -> str:
    """Vietnamese without diacritics, as people type it in e-mail addresses."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _uuids(rng: np.random.Generator, n: int) -> NDArray[np.object_]:
    """``n`` random version-4 UUIDs as strings, drawn from ``rng``."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_HEX_POS] = hexed.reshape(n, 32)
    text = out.tobytes().decode("ascii")
    return np.array([text[i : i + 36] for i in range(0, 36 * n, 36)], dtype=object)


def _timestamps(ms: NDArray[np.int64]) -> list[str]:
    """Milliseconds since the epoch as ISO timestamps (PostgreSQL accepts the 'T')."""
    return list(np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist())


def _strs(values: NDArray[Any]) -> list[str]:
    return [str(v) for v in values.tolist()]


def _text(columns: list[list[str]]) -> str:
    """COPY text for columns of already escaped values."""
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> NDArray[np.float64]:
    """Weights in random order whose sorted values fall as ``rank ** -exponent``."""
    ranks = rng.permutation(n) + 1
    weights = ranks.astype(np.float64) ** -exponent
    return np.asarray(weights / weights.sum(), dtype=np.float64)


# --- generation --------------------------------------------------------------------


class _Generator:
    """Generates the tables in load order; later tables reuse earlier ids."""

    def __init__(self, scale: Scale, anchor: datetime) -> None:
        self.scale = scale
        self.anchor = normalize_anchor(anchor)
        self.anchor_ms = int(np.datetime64(self.anchor, "ms").astype(np.int64))
        self.window_start_ms = self.anchor_ms - scale.days * MS_PER_DAY

    def rng(self, table: str) -> np.random.Generator:
        # One independent stream per table: changing how one table is drawn
        # leaves the others' rows as they were.
        return np.random.default_rng([self.scale.seed, TABLES.index(table)])

    def chunks(self) -> Iterator[Chunk]:
        yield from self.users()
        yield from self.courses()
        yield from self.lessons()
        yield from self.enrollments()
        yield from self.quiz_attempts()
        yield from self.behavior_logs()

    def users(self) -> Iterator[Chunk]:
        s, rng = self.scale, self.rng("User")
        n = s.users
        self.user_ids = _uuids(rng, n)
        # A few heavy users produce most events (Zipf, exponent 1: the top 1%
        # make about half of them); they enrol in more courses too.
        self.user_activity = _zipf_weights(rng, n, 1.0)
        roles = rng.choice(len(ROLES), size=n, p=ROLE_WEIGHTS)
        roles[0] = ROLES.index("instructor")  # every scale has an author for courses
        self.instructors = np.flatnonzero(roles == ROLES.index("instructor"))

        fam = rng.integers(len(_FAMILY), size=n)
        mid = rng.integers(len(_MIDDLE), size=n)
        giv = rng.integers(len(_GIVEN), size=n)
        dom = rng.integers(len(_EMAIL_DOMAINS), size=n)
        # Some people typed their address capitalised and the app kept it as typed:
        # that is why it looks users up by lower(email).
        capitalised = rng.random(n) < 0.15
        created = self.window_start_ms - rng.integers(0, 365 * MS_PER_DAY, size=n)
        self.user_created_ms = created

        names = [
            copy_escape(json.dumps(
                {"vi": f"{f[0]} {m[0]} {g[0]}", "en": f"{_ascii(g[0])} {_ascii(f[0])}",
                 "zh": f"{f[1]}{m[1]}{g[1]}"},
                ensure_ascii=False,
            ))
            for f in _FAMILY for m in _MIDDLE for g in _GIVEN
        ]
        name_idx = (fam * len(_MIDDLE) + mid) * len(_GIVEN) + giv
        emails = []
        for i, (f, g, d, cap) in enumerate(
            zip(fam.tolist(), giv.tolist(), dom.tolist(), capitalised.tolist(), strict=True)
        ):
            local = f"{_ascii(_GIVEN[g][0])}.{_ascii(_FAMILY[f][0])}{i}"
            emails.append(f"{local if cap else local.lower()}@{_EMAIL_DOMAINS[d]}")
        columns = [
            list(self.user_ids.tolist()),
            emails,
            [names[i] for i in name_idx.tolist()],
            [ROLES[r] for r in roles.tolist()],
            _timestamps(created),
        ]
        yield Chunk("User", _text(columns), n)

    def courses(self) -> Iterator[Chunk]:
        s, rng = self.scale, self.rng("Course")
        n = s.courses
        self.course_ids = _uuids(rng, n)
        self.course_popularity = _zipf_weights(rng, n, 0.8)
        topic = rng.integers(len(_TOPICS), size=n)
        prefix = rng.integers(len(_PREFIXES), size=n)
        suffix = rng.integers(len(_SUFFIXES), size=n)
        author = self.instructors[rng.integers(len(self.instructors), size=n)]
        published = rng.random(n) < 0.85
        self.course_created_ms = (self.anchor_ms - 30 * MS_PER_DAY
                                  - rng.integers(0, 540 * MS_PER_DAY, size=n))
        titles, descriptions, categories = [], [], []
        for t, p, x in zip(topic.tolist(), prefix.tolist(), suffix.tolist(), strict=True):
            name, category = _TOPICS[t]
            titles.append(copy_escape(f"{_PREFIXES[p]} {name}{_SUFFIXES[x]}"))
            descriptions.append(copy_escape(
                f"Learn {name} step by step with videos, quizzes and projects."
            ))
            categories.append(category)
        columns = [
            list(self.course_ids.tolist()),
            titles,
            descriptions,
            categories,
            list(self.user_ids[author].tolist()),
            ["t" if b else "f" for b in published.tolist()],
            _timestamps(self.course_created_ms),
        ]
        yield Chunk("Course", _text(columns), n)

    def lessons(self) -> Iterator[Chunk]:
        s, rng = self.scale, self.rng("Lesson")
        k = s.lessons_per_course
        n = s.courses * k
        self.lesson_ids = _uuids(rng, n)
        course = np.repeat(np.arange(s.courses), k)
        position = np.tile(np.arange(1, k + 1), s.courses)
        word = rng.integers(len(_LESSON_WORDS), size=n)
        duration = rng.integers(120, 3_600, size=n)
        created = np.minimum(self.course_created_ms[course] + position * MS_PER_DAY,
                             self.anchor_ms)
        columns = [
            list(self.lesson_ids.tolist()),
            list(self.course_ids[course].tolist()),
            [f"Lesson {p}: {_LESSON_WORDS[w]}"
             for p, w in zip(position.tolist(), word.tolist(), strict=True)],
            _strs(position),
            _strs(duration),
            _timestamps(created),
        ]
        yield Chunk("Lesson", _text(columns), n)

    def enrollments(self) -> Iterator[Chunk]:
        s, rng = self.scale, self.rng("Enrollment")
        n = s.enrollments
        ids = _uuids(rng, n)
        # Active users enrol more, but everyone enrols in something now and then.
        user_p = 0.5 * self.user_activity + 0.5 / s.users
        users = np.empty(0, dtype=np.int64)
        courses = np.empty(0, dtype=np.int64)
        # A user enrols in a course once: draw pairs, keep the first of each,
        # draw more while short (rare: the draw is 30% larger than needed).
        while len(users) < n:
            want = int((n - len(users)) * 1.3) + 16
            u = rng.choice(s.users, size=want, p=user_p)
            c = rng.choice(s.courses, size=want, p=self.course_popularity)
            users, courses = np.concatenate([users, u]), np.concatenate([courses, c])
            _, first = np.unique(users * s.courses + courses, return_index=True)
            keep = np.sort(first)
            users, courses = users[keep], courses[keep]
        users, courses = users[:n], courses[:n]
        self.enrolled_users, self.enrolled_courses = users, courses
        status = rng.choice(3, size=n, p=(0.6, 0.25, 0.15))  # active, completed, dropped
        progress = np.where(status == 1, 100,
                            np.where(status == 2, rng.integers(0, 40, size=n),
                                     rng.integers(0, 100, size=n)))
        enrolled = self.anchor_ms - rng.integers(0, (s.days + 180) * MS_PER_DAY, size=n)
        # Nobody enrols before they sign up or before the course exists.
        self.enrolled_ms = np.maximum.reduce([
            enrolled, self.user_created_ms[users] + 60_000,
            self.course_created_ms[courses] + MS_PER_DAY,
        ])
        statuses = ("active", "completed", "dropped")
        columns = [
            list(ids.tolist()),
            list(self.user_ids[users].tolist()),
            list(self.course_ids[courses].tolist()),
            _strs(progress),
            [statuses[x] for x in status.tolist()],
            _timestamps(self.enrolled_ms),
        ]
        yield Chunk("Enrollment", _text(columns), n)

    def quiz_attempts(self) -> Iterator[Chunk]:
        s, rng = self.scale, self.rng("QuizAttempt")
        n = s.quiz_attempts
        ids = _uuids(rng, n)
        # A student attempts quizzes of lessons in courses they are enrolled in.
        enrolment = rng.integers(len(self.enrolled_users), size=n)
        lesson = (self.enrolled_courses[enrolment] * s.lessons_per_course
                  + rng.integers(s.lessons_per_course, size=n))
        score = np.clip(np.rint(rng.normal(72, 15, size=n)), 0, 100).astype(np.int64)
        since = self.enrolled_ms[enrolment]
        attempted = since + (rng.random(n) * (self.anchor_ms - since)).astype(np.int64)
        columns = [
            list(ids.tolist()),
            list(self.user_ids[self.enrolled_users[enrolment]].tolist()),
            list(self.lesson_ids[lesson].tolist()),
            _strs(score),
            _timestamps(attempted),
        ]
        yield Chunk("QuizAttempt", _text(columns), n)

    def _metadata_pools(self, rng: np.random.Generator) -> list[NDArray[np.object_]]:
        """Per event type, a pool of small JSON documents to draw metadata from."""
        m = _METADATA_POOL
        s = self.scale

        def pick(values: NDArray[np.object_]) -> list[str]:
            return list(values[rng.integers(len(values), size=m)].tolist())

        def dev() -> list[str]:
            return [_DEVICES[i] for i in rng.integers(len(_DEVICES), size=m).tolist()]

        lessons, courses = pick(self.lesson_ids), pick(self.course_ids)
        pos = rng.integers(0, 3_600, size=m).tolist()
        scores = rng.integers(0, 101, size=m).tolist()
        course_no = rng.integers(1, s.courses + 1, size=m).tolist()
        terms = [_SEARCH_TERMS[i] for i in rng.integers(len(_SEARCH_TERMS), size=m).tolist()]
        versions = [f"5.{a}.{b}" for a, b in rng.integers(0, 10, size=(m, 2)).tolist()]
        docs: dict[str, list[dict[str, object]]] = {
            "page_view": [{"path": f"/courses/{c}", "device": d}
                          for c, d in zip(course_no, dev(), strict=True)],
            "video_play": [{"lessonId": le, "position": p}
                           for le, p in zip(lessons, pos, strict=True)],
            "video_pause": [{"lessonId": le, "position": p}
                            for le, p in zip(lessons[::-1], pos, strict=True)],
            "login": [{"device": d, "appVersion": v} for d, v in zip(dev(), versions, strict=True)],
            "search": [{"q": t} for t in terms],
            "lesson_complete": [{"lessonId": le} for le in lessons],
            "quiz_submit": [{"lessonId": le, "score": sc}
                            for le, sc in zip(lessons, scores, strict=True)],
            "course_enroll": [{"courseId": c} for c in courses],
            "logout": [{"device": d} for d in dev()],
        }
        return [
            np.array([copy_escape(json.dumps(d, ensure_ascii=False)) for d in docs[e]],
                     dtype=object)
            for e in EVENT_TYPES
        ]

    def behavior_logs(self) -> Iterator[Chunk]:
        s, rng = self.scale, self.rng("BehaviorLog")
        n = s.behavior_logs
        if n == 0:
            return
        pools = self._metadata_pools(rng)
        # The platform grows: daily activity rises linearly to twice the first
        # day's over the window, and follows the hours of the day in UTC+7.
        day_p = np.linspace(1.0, 2.0, s.days + 1)
        day_p /= day_p.sum()
        hour_p = np.roll(np.array(_LOCAL_HOUR_WEIGHTS, dtype=np.float64), -_UTC_OFFSET_HOURS)
        hour_p /= hour_p.sum()
        first_day_ms = (self.anchor_ms // MS_PER_DAY - s.days) * MS_PER_DAY
        ts = (first_day_ms
              + rng.choice(s.days + 1, size=n, p=day_p) * MS_PER_DAY
              + rng.choice(24, size=n, p=hour_p) * 3_600_000
              + rng.integers(0, 3_600_000, size=n))
        # Days are calendar days (UTC), so the last one runs past the anchor and
        # the first starts before the window: fold both ends back inside.
        ts = np.where(ts > self.anchor_ms, ts - MS_PER_DAY, ts)
        ts = np.where(ts < self.window_start_ms, ts + MS_PER_DAY, ts)
        # Rows arrive in time order, so ids and physical order follow the clock.
        ts.sort()
        users = rng.choice(s.users, size=n, p=self.user_activity)
        etype = rng.choice(len(EVENT_TYPES), size=n, p=EVENT_WEIGHTS)
        meta = rng.integers(_METADATA_POOL, size=n)
        type_names = np.array(EVENT_TYPES, dtype=object)
        for start in range(0, n, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n)
            et = etype[start:stop]
            metadata = np.empty(stop - start, dtype=object)
            for t, pool in enumerate(pools):
                mask = et == t
                metadata[mask] = pool[meta[start:stop][mask]]
            columns = [
                [str(i) for i in range(start + 1, stop + 1)],
                list(self.user_ids[users[start:stop]].tolist()),
                list(type_names[et].tolist()),
                list(metadata.tolist()),
                _timestamps(ts[start:stop]),
            ]
            yield Chunk("BehaviorLog", _text(columns), stop - start)


def generate(scale: Scale, anchor: datetime) -> Iterator[Chunk]:
    """The demo rows for ``scale`` ending at ``anchor``, as COPY text chunks in load order."""
    return _Generator(scale, anchor).chunks()


def digest(scale: Scale, anchor: datetime) -> str:
    """SHA-256 of all generated rows: equal for equal (scale, anchor), else different."""
    h = hashlib.sha256()
    for chunk in generate(scale, anchor):
        h.update(chunk.table.encode() + b"\0")
        h.update(chunk.text.encode())
    return h.hexdigest()


# --- schema and loading ------------------------------------------------------------


def schema_sql() -> str:
    """The demo schema as Prisma's migration created it (``schema.sql``)."""
    return resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")


def prisma_schema() -> str:
    """The Prisma schema the demo schema was migrated from (``schema.prisma``)."""
    return resources.files(__package__).joinpath("schema.prisma").read_text(encoding="utf-8")


def schema_statements() -> tuple[list[str], list[str]]:
    """``schema.sql`` split into its CREATE TABLE statements and everything after.

    The loader creates the tables, loads them, then builds indexes and checks
    foreign keys once over the loaded rows, which is faster than row by row.
    """
    tables: list[str] = []
    after: list[str] = []
    for raw in _STATEMENT_END.split(schema_sql()):
        lines = [ln for ln in raw.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        if not lines:
            continue
        statement = "\n".join(lines)
        (tables if statement.upper().startswith("CREATE TABLE") else after).append(statement)
    return tables, after


def _q(statement: str) -> sql.SQL:
    """A statement of our own checked-in schema (trusted text, not user input)."""
    return sql.SQL(statement)


def _server_anchor(conn: psycopg.Connection[Any]) -> datetime:
    # The server's clock, in UTC as Prisma stores DateTime, so that the app's
    # NOW() - INTERVAL '7 days' sees the newest week of events.
    row = conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()
    assert row is not None
    value = row[0]
    assert isinstance(value, datetime)
    return value


def drop_tables(conn: psycopg.Connection[Any]) -> None:
    """Drop the demo tables if they exist."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
        sql.SQL(", ").join(sql.Identifier(t) for t in reversed(TABLES))
    ))


def load(
    target: str | psycopg.Connection[Any],
    scale: Scale | None = None,
    anchor: datetime | None = None,
    progress: ProgressFn | None = None,
    *,
    replace: bool = False,
) -> dict[str, int]:
    """Create the demo schema in a database and load the generated rows into it.

    ``target`` is a conninfo or an open connection. Everything happens in one
    transaction: a failed load leaves nothing behind. ``anchor`` defaults to the
    server's current time. Returns the rows loaded per table.
    """
    scale = scale or Scale()
    if isinstance(target, str):
        with psycopg.connect(target, autocommit=True) as conn:
            return _load(conn, scale, anchor, progress, replace)
    return _load(target, scale, anchor, progress, replace)


def _load(
    conn: psycopg.Connection[Any],
    scale: Scale,
    anchor: datetime | None,
    progress: ProgressFn | None,
    replace: bool,
) -> dict[str, int]:
    report = progress or (lambda label, done, total: None)
    totals = scale.rows()
    loaded = dict.fromkeys(TABLES, 0)
    create, after = schema_statements()
    try:
        with conn.transaction():
            anchor = anchor or _server_anchor(conn)
            # Index builds sort in memory rather than in temporary files; the
            # commit at the end need not wait for the WAL flush.
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute("SET LOCAL synchronous_commit = off")
            if replace:
                drop_tables(conn)
            for statement in create:
                conn.execute(_q(statement))
            for table in TABLES:
                report(table, 0, totals[table])
            cur = conn.cursor()
            chunks = generate(scale, anchor)
            for table in TABLES:
                if totals[table] == 0:
                    continue
                # FREEZE: the tables were created in this transaction, so their
                # rows can be written frozen and all-visible, as on a vacuumed
                # production table (no hint-bit writes, index-only scans work).
                copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS[table]),
                )
                # The queued writer sends on a thread of its own while the
                # next chunk is generated, keeping both cores busy.
                with cur.copy(copy, writer=QueuedLibpqWriter(cur)) as cp:
                    while loaded[table] < totals[table]:
                        chunk = next(chunks)
                        assert chunk.table == table
                        cp.write(chunk.text)
                        loaded[table] += chunk.rows
                        report(table, loaded[table], totals[table])
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)",
                ['"BehaviorLog"', max(scale.behavior_logs, 1), scale.behavior_logs > 0],
            )
            for i, statement in enumerate(after):
                report("indexes", i, len(after))
                conn.execute(_q(statement))
            report("indexes", len(after), len(after))
            for i, table in enumerate(TABLES):
                report("analyze", i, len(TABLES))
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
            report("analyze", len(TABLES), len(TABLES))
    except psycopg.errors.DuplicateTable as exc:
        raise DemoError(
            f"The demo tables already exist in this database ({exc.diag.message_primary}): "
            "load into an empty database, or replace them (--replace)."
        ) from exc
    return loaded
