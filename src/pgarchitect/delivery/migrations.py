"""Migration files for the proposals, in the format the team already uses.

Four formats (:data:`FORMATS`), :func:`detect_format` picks the repository's own:

- ``sql``: ``migrations/<stamp>_<name>.up.sql`` and ``.down.sql``;
- ``prisma``: ``prisma/migrations/<stamp>_<name>/migration.sql`` (Prisma has no down
  migrations: the rollback is in the comment block), and :func:`add_prisma_indexes`
  declares the index in ``schema.prisma`` so that ``prisma migrate dev`` keeps it;
- ``alembic``: a revision in the script location, chained after the current head;
- ``flyway``: ``V<stamp>__<name>.sql`` and its undo ``U<stamp>__<name>.sql``.

One migration per proposal, one statement per file. ``CREATE INDEX CONCURRENTLY``
cannot run inside a transaction block, and each tool has its own way of opening one
around a file: Prisma sends a file as one query string, which PostgreSQL runs as one
implicit transaction when it holds more than one statement; Flyway runs a PostgreSQL
script outside a transaction only when nothing in it needs one; Alembic runs every
migration inside a transaction, which the revision leaves with ``autocommit_block()``;
psql runs each statement on its own unless told ``--single-transaction``.

Every file opens with a comment block: the proposal's title, confidence and action,
expected and measured gain, the statements it helps, the reasoning and the rollback.
Those texts come from anywhere (a statement of the workload, an advisor's words), so
each becomes one printable line before it is written, and is made inert for the place
it lands in (a SQL comment, a Python docstring, a Flyway script).
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from pgarchitect.advisors.index.advise import IndexDetail
from pgarchitect.catalog.index import IndexDef
from pgarchitect.delivery.report import write_atomically
from pgarchitect.errors import ConfigError, PgArchitectError
from pgarchitect.proposal import REJECTED, Proposal, describe_action
from pgarchitect.report import short

FORMATS = ("sql", "prisma", "alembic", "flyway")

FLYWAY_FOLDERS = ("src/main/resources/db/migration", "db/migration")  # the first found wins
ALEMBIC_VERSIONS = PurePosixPath("alembic/versions")
WIDTH = 92  # comment lines wrap here (a statement is cut to one line of this width)
STAMP = "%Y%m%d%H%M%S"

_NOT_MIGRATIONS = {
    "rewrite": "a rewrite changes the application's statement, not the schema",
    "cache": "a cache lives in the application, not in the schema",
    "setting": "a server setting is configuration (postgresql.conf, ALTER SYSTEM), "
               "not a schema migration",
    "partition": "partitioning moves data: pgarchitect writes no migration for it",
    "hygiene": "maintenance (VACUUM, REINDEX, dropping unused objects) is not written "
               "as a migration",
}


def detect_format(repo: Path) -> str:
    """The migration format a repository uses: ``prisma``, ``alembic``, ``flyway`` or ``sql``.

    ``prisma/schema.prisma`` means Prisma, ``alembic.ini`` Alembic, a ``db/migration``
    folder (or Maven's and Gradle's ``src/main/resources/db/migration``) Flyway;
    anything else gets plain SQL files.
    """
    if (repo / "prisma" / "schema.prisma").is_file():
        return "prisma"
    if (repo / "alembic.ini").is_file():
        return "alembic"
    if any((repo / folder).is_dir() for folder in FLYWAY_FOLDERS):
        return "flyway"
    return "sql"


@dataclass(frozen=True)
class MigrationFile:
    """One file to add to the repository."""

    path: PurePosixPath  # relative to the repository's root
    text: str


@dataclass
class Rendered:
    """The files for a set of proposals, and the proposals that got none, with why."""

    files: list[MigrationFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (title, why)

    def write(self, root: Path) -> list[Path]:
        """Write the files under ``root`` (folders made as needed); the paths written."""
        written = []
        for f in self.files:
            path = root.joinpath(*f.path.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, f.text)
            written.append(path)
        return written


@dataclass(frozen=True)
class _Plan:
    """One proposal's migration: what every format needs."""

    proposal: Proposal
    index: IndexDef
    slug: str  # the index's name, fit for a file name
    stamp: datetime  # UTC; one second apart between the migrations of one set
    create: str
    drop: str

    @property
    def version(self) -> str:
        return self.stamp.strftime(STAMP)


def render(proposals: Sequence[Proposal], fmt: str, *, when: datetime,
           repo: Path | None = None) -> Rendered:
    """The migration files for ``proposals`` in format ``fmt``, stamped from ``when``.

    One migration per proposal, in order; the n-th is stamped ``when`` (UTC; a naive
    time is taken as UTC) plus n seconds, so names and versions are distinct and the
    same input always gives the same files. ``repo`` is read, never written: the
    Alembic script location and its current head, Flyway's folder.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown migration format {fmt!r}: use one of {', '.join(FORMATS)}.")
    start = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    result = Rendered()
    plans: list[_Plan] = []
    names: dict[tuple[str, str], str] = {}
    for proposal in proposals:
        why = _why_not(proposal)
        if why is None:
            assert isinstance(proposal.detail, IndexDetail)
            index = proposal.detail.index
            plan = _Plan(proposal, index, _slug(index.name), start + timedelta(seconds=len(plans)),
                         index.create_sql(concurrently=True).as_string(None),
                         index.drop_sql(concurrently=True).as_string(None))
            why = _why_not_here(plan, fmt, names)
        if why is not None:
            result.skipped.append((proposal.title, why))
            continue
        names[index.schema, index.name] = proposal.title
        plans.append(plan)
    if plans:
        writers = {"sql": _sql_files, "prisma": _prisma_files, "alembic": _alembic_files,
                   "flyway": _flyway_files}
        result.files.extend(writers[fmt](plans, repo))
    return result


def _why_not(proposal: Proposal) -> str | None:
    """Why a proposal gets no migration, or None when it gets one."""
    if proposal.action == REJECTED:
        return f"rejected: {_flat(proposal.rejected or '')}"
    if proposal.kind != "index":
        return _NOT_MIGRATIONS.get(proposal.kind, f"a {proposal.kind} is not a migration")
    if not isinstance(proposal.detail, IndexDetail):
        return "an index proposal without its index definition"
    return None


def _why_not_here(plan: _Plan, fmt: str, names: dict[tuple[str, str], str]) -> str | None:
    """Why an index gets no migration in this set and format, or None."""
    earlier = names.get((plan.index.schema, plan.index.name))
    if earlier is not None:
        return f"the same index name as {earlier!r}, earlier in this set"
    if fmt == "flyway" and "${" in plan.create:
        return "its statement holds '${', which Flyway would read as a placeholder"
    return None


def _slug(name: str) -> str:
    """An index name as part of a file name.

    >>> _slug("BehaviorLog_userId_timestamp_idx"), _slug('Ünïcode "odd" name'), _slug("--")
    ('BehaviorLog_userId_timestamp_idx', 'n_code_odd_name', 'index')
    """
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:60].rstrip("_") or "index"


# -- the comment block ----------------------------------------------------------------


def _inert(text: str) -> str:
    """Every unprintable character (line breaks, NUL, controls, separators) replaced."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _flat(text: str) -> str:
    """One printable line: whitespace runs (line breaks included) become one space, other
    unprintable characters (NUL, controls, separators) the replacement character.

    >>> _flat("a\\n\\t b\\u2028c\\x00d */")
    'a b c\\ufffdd */'
    """
    return _inert(" ".join(text.split()))


def _wrap(prefix: str, text: str) -> list[str]:
    return textwrap.wrap(prefix + (_flat(text) or "(none)"), WIDTH, subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


_TITLE = "pgarchitect proposal: "


def _evidence(plan: _Plan) -> list[str]:
    """The comment block's lines common to every format (one printable line each)."""
    p = plan.proposal
    lines = _wrap(_TITLE, p.title)
    lines.append(f"Confidence {p.confidence:.0f}/100, action {p.action}: "
                 f"{describe_action(p.action)}.")
    expected = "unknown" if p.estimated_gain is None else f"{p.estimated_gain:.0%} (planner cost)"
    measured = ("not measured" if p.measured_gain is None
                else f"measured gain {p.measured_gain:.0%} (execution time)")
    lines.append(f"Expected gain {expected}, {measured}.")
    if p.problem:
        lines += _wrap("Problem: ", p.problem)
    lines.append("Helps:" if p.statements else "Helps: no statement recorded.")
    lines += [f"  - {_flat(short(m.query, WIDTH - 4))}" for m in p.statements]
    lines += _wrap("Reasoning: ", p.reasoning)
    lines += _wrap("Rollback: ", f"{plan.drop};")
    lines += _wrap("", "If the build fails, PostgreSQL leaves an INVALID index of this name "
                       "behind: run the rollback before trying again (IF NOT EXISTS would "
                       "keep the invalid one).")
    return lines


def _sql_comment(lines: Sequence[str], *, flyway: bool = False) -> str:
    """``--`` comment lines: a line break is all that ends one, and there is none left."""
    out = []
    for line in lines:
        text = _inert(line)
        if flyway:
            text = text.replace("${", "$ {")  # Flyway replaces placeholders in comments too
        out.append(f"-- {text}".rstrip() + "\n")
    return "".join(out)


def _run_alone(path: PurePosixPath) -> list[str]:
    return _wrap("", f"Run it alone and outside a transaction block: psql -v ON_ERROR_STOP=1 "
                     f"-f {path} (never with -1 or --single-transaction). One statement per "
                     f"file: a tool that sends a file as one query string runs several "
                     f"statements as one implicit transaction, where CONCURRENTLY fails.")


# -- plain SQL ------------------------------------------------------------------------


def _sql_files(plans: Sequence[_Plan], repo: Path | None) -> Iterator[MigrationFile]:
    for plan in plans:
        base = f"migrations/{plan.version}_{plan.slug}"
        up, down = PurePosixPath(f"{base}.up.sql"), PurePosixPath(f"{base}.down.sql")
        head = _evidence(plan)
        yield MigrationFile(up, _sql_comment([*head, "", *_run_alone(up), f"Undo: {down}"])
                            + f"{plan.create};\n")
        yield MigrationFile(down, _sql_comment([*head, "", f"Undoes {up}.", *_run_alone(down)])
                            + f"{plan.drop};\n")


# -- Prisma ---------------------------------------------------------------------------


def _prisma_files(plans: Sequence[_Plan], repo: Path | None) -> Iterator[MigrationFile]:
    schema = None
    if repo is not None and (repo / "prisma" / "schema.prisma").is_file():
        schema = (repo / "prisma" / "schema.prisma").read_text(encoding="utf-8")
    for plan in plans:
        path = PurePosixPath(f"prisma/migrations/{plan.version}_{plan.slug}/migration.sql")
        notes = [
            *_wrap("", "One statement, alone in this file, on purpose: Prisma sends a migration "
                       "file to PostgreSQL as one query string, and PostgreSQL runs a string of "
                       "several statements as one implicit transaction, where CREATE INDEX "
                       "CONCURRENTLY fails. A lone statement runs outside any transaction. Add "
                       "nothing to this file."),
            *_wrap("", _prisma_schema_note(plan.index, schema)),
            *_wrap("", "Prisma has no down migrations. To roll back, add a migration whose only "
                       "statement is the rollback above, and remove the index's @@index from "
                       "schema.prisma if it has one."),
        ]
        yield MigrationFile(path, _sql_comment([*_evidence(plan), "", *notes])
                            + f"{plan.create};\n")


def _prisma_schema_note(index: IndexDef, schema: str | None) -> str:
    """What schema.prisma needs so that ``prisma migrate dev`` keeps the index."""
    partial = schema is not None and _partial_previewed(schema)
    problems = _inexpressible(index, partial)
    if problems:
        return (f"Prisma's schema cannot express {_and(problems)}: the next `prisma migrate "
                f"dev` may take this index for drift and write a migration that drops it. "
                f"Create migrations with `prisma migrate dev --create-only` and delete any "
                f'DROP INDEX "{index.name}" from them before applying.')
    if schema is not None and (model := _model_of(schema, index)) is not None:
        text, _ = _declaration(index, model, partial)
        if text:
            return (f"Declare it in schema.prisma, in model {model.name}: {text}. Otherwise "
                    f"the next `prisma migrate dev` writes a migration that drops it.")
    return (f'Declare it in schema.prisma (@@index([...], map: "{index.name}")), or the next '
            f"`prisma migrate dev` writes a migration that drops it.")


# -- Flyway ---------------------------------------------------------------------------


def _flyway_folder(repo: Path | None) -> str:
    if repo is not None:
        for folder in FLYWAY_FOLDERS:
            if (repo / folder).is_dir():
                return folder
    return "db/migration"


def _flyway_files(plans: Sequence[_Plan], repo: Path | None) -> Iterator[MigrationFile]:
    folder = _flyway_folder(repo)
    alone = ("One statement, alone in this file, on purpose: Flyway runs a PostgreSQL script "
             "outside a transaction only when it holds nothing but statements that cannot run "
             "inside one, such as {what} CONCURRENTLY. Add nothing to this file.")
    for plan in plans:
        v_name, u_name = (f"{prefix}{plan.version}__{plan.slug}.sql" for prefix in "VU")
        head = _evidence(plan)
        v_notes = [*_wrap("", alone.format(what="CREATE INDEX")),
                   *_wrap("", f"Undo: {u_name}, which `flyway undo` runs (Flyway Teams and "
                              f"Enterprise; Community only warns about the file): otherwise run "
                              f"it with psql.")]
        u_notes = [f"Undoes {v_name}.", *_wrap("", alone.format(what="DROP INDEX"))]
        yield MigrationFile(PurePosixPath(f"{folder}/{v_name}"),
                            _sql_comment([*head, "", *v_notes], flyway=True)
                            + f"{plan.create};\n")
        yield MigrationFile(PurePosixPath(f"{folder}/{u_name}"),
                            _sql_comment([*head, "", *u_notes], flyway=True)
                            + f"{plan.drop};\n")


# -- Alembic --------------------------------------------------------------------------


def _alembic_files(plans: Sequence[_Plan], repo: Path | None) -> Iterator[MigrationFile]:
    versions = _alembic_versions(repo)
    down = _alembic_head(repo / versions) if repo is not None else None
    for plan in plans:
        seed = f"{down}|{plan.index}|{plan.index.name}|{plan.version}"
        revision = hashlib.sha1(seed.encode()).hexdigest()[:12]
        path = versions / f"{revision}_{plan.slug}.py"
        yield MigrationFile(path, _alembic_text(plan, revision, down))
        down = revision


def _alembic_text(plan: _Plan, revision: str, down: str | None) -> str:
    why = _wrap("", "CREATE INDEX CONCURRENTLY and DROP INDEX CONCURRENTLY cannot run inside a "
                    "transaction block, and Alembic runs every migration inside one: upgrade() "
                    "and downgrade() step out of it with autocommit_block(), which commits "
                    "what ran before and runs the one statement on its own. Upgrade to this "
                    "revision on its own if the revisions before it must stay in one "
                    "transaction.")
    title = _wrap(_TITLE, plan.proposal.title)  # the first paragraph: what alembic shows
    doc = [*title, "", *_evidence(plan)[len(title):], "", *why, "",
           f"Revision ID: {revision}", f"Revises: {down or ''}",
           f"Create Date: {plan.stamp.isoformat(sep=' ')}"]
    docstring = "\n".join(_docstring_line(line).rstrip() for line in doc)
    return (
        f'"""{docstring}\n"""\n\n'
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n"
        f"CREATE = {_py_string(_text_clause(plan.create))}\n"
        f"DROP = {_py_string(_text_clause(plan.drop))}\n\n\n"
        "def upgrade() -> None:\n"
        "    # Outside the migration's transaction: see the docstring.\n"
        "    with op.get_context().autocommit_block():\n"
        "        op.execute(CREATE)\n\n\n"
        "def downgrade() -> None:\n"
        "    with op.get_context().autocommit_block():\n"
        "        op.execute(DROP)\n"
    )


def _docstring_line(line: str) -> str:
    """A comment line inside the revision's docstring: backslashes doubled (no escape
    sequence can form) and no three double quotes in a row (the docstring cannot end
    early); the docstring's value is the line itself.
    """
    text = _inert(line).replace("\\", "\\\\")
    return re.sub(r'"(?="")', lambda _: '\\"', text)


# SQLAlchemy's text(), which op.execute() puts around a string, reads ":name" as a bound
# parameter (the same pattern as SQLAlchemy's); a backslash before the colon keeps it.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def _text_clause(statement: str) -> str:
    r"""A statement as op.execute() must be given it: ``:name`` escaped as ``\:name``.

    >>> print(_text_clause("WHERE note = 'at :noon' AND kind = 'quiz:start' AND x::text > ''"))
    WHERE note = 'at \:noon' AND kind = 'quiz:start' AND x::text > ''
    """
    return _BIND.sub(lambda m: "\\" + m.group(0), statement)


def _py_string(text: str, width: int = 80) -> str:
    """A Python expression for ``text``: one literal, or adjacent literals in parentheses."""
    if len(text) <= width:
        return repr(text)
    pieces, current = [], ""
    for word in re.split(r"(?<= )", text):
        if current and len(current) + len(word) > width:
            pieces.append(current)
            current = ""
        current += word
    pieces.append(current)
    return "(\n" + "".join(f"    {piece!r}\n" for piece in pieces) + ")"


def _alembic_versions(repo: Path | None) -> PurePosixPath:
    """The versions folder, relative to the repository: from ``alembic.ini`` when there is one."""
    ini = repo / "alembic.ini" if repo is not None else None
    if ini is None or not ini.is_file():
        return ALEMBIC_VERSIONS
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigError(f"Cannot read {ini}: {exc}. Fix it, or write the migration "
                          "in another format (--format sql).") from exc
    if not parser.has_section("alembic"):
        return ALEMBIC_VERSIONS
    section = parser["alembic"]
    locations = section.get("version_locations", "").strip()
    if locations:
        return _repo_path(re.split(r"[\s,;]+", locations)[0], ini)
    script = section.get("script_location", "").strip()
    return _repo_path(script, ini) / "versions" if script else ALEMBIC_VERSIONS


def _repo_path(value: str, ini: Path) -> PurePosixPath:
    """A folder named in ``alembic.ini`` (``%(here)s`` is the repository), made relative."""
    text = value.replace("%(here)s", ".").replace("\\", "/")
    refused = ConfigError(f"{ini} names the folder {value!r}, which is no folder inside the "
                          "repository (a package resource, or outside it): pgarchitect writes "
                          "revisions only inside the repository.")
    if ":" in text:
        raise refused
    if Path(text).is_absolute():
        try:
            return PurePosixPath(Path(text).resolve().relative_to(ini.parent.resolve()).as_posix())
        except ValueError:
            raise refused from None
    path = PurePosixPath(text)
    if ".." in path.parts:
        raise refused
    return path


def _alembic_head(folder: Path) -> str | None:
    """The revision no other names as its ``down_revision``; None in an empty folder."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
        found = _revision_of(path)
        if found is not None:
            revisions.add(found[0])
            parents.update(found[1])
    heads = sorted(revisions - parents)
    if not revisions:
        return None
    if len(heads) != 1:
        raise PgArchitectError(
            f"The Alembic revisions in {folder} have {len(heads)} heads "
            f"({', '.join(heads) or 'a cycle'}): pgarchitect chains its revision after the "
            "one head. Merge them first (alembic merge heads), then run this again.")
    return heads[0]


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A revision file's ``revision`` and its ``down_revision``(s), read without running it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            values[target.id] = value
    revision = values.get("revision")
    if not (isinstance(revision, ast.Constant) and isinstance(revision.value, str)):
        return None
    down = values.get("down_revision")
    items = down.elts if isinstance(down, ast.Tuple | ast.List) else [down]
    downs = tuple(i.value for i in items
                  if isinstance(i, ast.Constant) and isinstance(i.value, str))
    return revision.value, downs


# -- schema.prisma --------------------------------------------------------------------

_PRISMA_TYPES = {"btree": None, "hash": "Hash", "gist": "Gist", "gin": "Gin",
                 "spgist": "SpGist", "brin": "Brin"}
_MODEL = re.compile(r"^\s*model\s+([A-Za-z_]\w*)\s*\{")
_BLOCK_END = re.compile(r"^\s*\}")
_STRING = r'"((?:[^"\\]|\\.)*)"'
_TABLE_MAP = re.compile(r"^@@map\(\s*(?:name:\s*)?" + _STRING)
_SCHEMA = re.compile(r"^@@schema\(\s*" + _STRING)
_FIELD = re.compile(r"^([A-Za-z_]\w*)\s+([A-Za-z_]\w*)")
_COLUMN_MAP = re.compile(r"@map\(\s*(?:name:\s*)?" + _STRING)
_NAMED = re.compile(r"\bmap:\s*" + _STRING)
_PREVIEW = re.compile(r"previewFeatures\s*=\s*\[([^\]]*)\]")


@dataclass
class _Model:
    name: str
    start: int  # line of "model X {"
    end: int  # line of its "}"
    table: str
    schema: str | None
    columns: dict[str, str]  # column -> field
    names: set[str]  # index and constraint names given with map:
    declarations: set[str]  # @@index/@@unique (and @unique fields), as _shape() gives
    last_index: int | None  # line of the last @@index/@@unique
    last_attribute: int | None  # line of the last @@ attribute
    indent: str


def _code(line: str) -> str:
    """A schema line without its ``//`` comment (string literals kept whole).

    >>> _code('  url = "http://x" // where')
    '  url = "http://x" '
    """
    in_string = False
    i = 0
    while i < len(line):
        c = line[i]
        if in_string and c == "\\":
            i += 1  # the escaped character is skipped with it
        elif c == '"':
            in_string = not in_string
        elif not in_string and line.startswith("//", i):
            return line[:i]
        i += 1
    return line


def _shape(code: str) -> str:
    """An @@index/@@unique declaration without whitespace and without its name."""
    return re.sub(r',?map:"(?:[^"\\]|\\.)*"', "", re.sub(r"\s+", "", code))


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _prisma_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _models(lines: Sequence[str]) -> list[_Model]:
    codes = [_code(line) for line in lines]
    names = {m.group(1) for c in codes if (m := _MODEL.match(c))}
    models = []
    i = 0
    while i < len(lines):
        match = _MODEL.match(codes[i])
        if not match:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _BLOCK_END.match(codes[j])),
                   len(lines))
        model = _Model(match.group(1), i, end, match.group(1), None, {}, set(), set(), None,
                       None, "")
        for j in range(i + 1, end):
            code = codes[j].strip()
            model.names.update(_unescape(n) for n in _NAMED.findall(code))
            if code.startswith("@@"):
                model.last_attribute = j
                if table := _TABLE_MAP.match(code):
                    model.table = _unescape(table.group(1))
                elif schema := _SCHEMA.match(code):
                    model.schema = _unescape(schema.group(1))
                elif code.startswith(("@@index", "@@unique")):
                    model.last_index = j
                    model.declarations.add(_shape(code))
                model.indent = model.indent or lines[j][:len(lines[j]) - len(lines[j].lstrip())]
            elif (f := _FIELD.match(code)) and f.group(2) not in names:
                column = _COLUMN_MAP.search(code)
                model.columns[_unescape(column.group(1)) if column else f.group(1)] = f.group(1)
                if re.search(r"@unique\b", code):  # the same as @@unique([field])
                    model.declarations.add(f"@@unique([{f.group(1)}])")
                model.indent = model.indent or lines[j][:len(lines[j]) - len(lines[j].lstrip())]
        model.indent = model.indent or "  "
        models.append(model)
        i = end + 1
    return models


def _inexpressible(index: IndexDef, partial: bool) -> list[str]:
    """What of an index Prisma's schema language cannot say (``partial``: the schema enables
    the ``partialIndexes`` preview feature)."""
    problems = []
    if any(k.expression is not None for k in index.keys):
        problems.append("an expression key")
    if index.where and not partial:
        problems.append("a partial index (WHERE)")
    if index.include:
        problems.append("INCLUDE columns")
    if any(k.nulls for k in index.keys):
        problems.append("NULLS FIRST/LAST")
    if index.method not in _PRISMA_TYPES or (index.unique and index.method != "btree"):
        problems.append(f"the {index.method} access method")
    elif any(k.opclass for k in index.keys) and index.method in ("btree", "hash"):
        problems.append(f"an operator class on a {index.method} key")
    return problems


def _declaration(index: IndexDef, model: _Model, partial: bool) -> tuple[str | None, list[str]]:
    """``@@index([...], map: "...")`` for an index, or None and what Prisma cannot express."""
    problems = _inexpressible(index, partial)
    missing = [k.column for k in index.keys
               if k.column is not None and k.column not in model.columns]
    if missing:
        problems.append(f"column {', '.join(missing)} (no field of model {model.name} maps to "
                        "it)")
    if problems:
        return None, problems
    fields = []
    for key in index.keys:
        assert key.column is not None
        args = ["sort: Desc"] if key.direction == "desc" else []
        if key.opclass:
            args.append(f"ops: raw({_prisma_string(key.opclass)})")
        name = model.columns[key.column]
        fields.append(f"{name}({', '.join(args)})" if args else name)
    text = f"@@{'unique' if index.unique else 'index'}([{', '.join(fields)}], map: " \
           f"{_prisma_string(index.name)}"
    prisma_type = _PRISMA_TYPES[index.method]
    if prisma_type:
        text += f", type: {prisma_type}"
    if index.where:
        text += f", where: raw({_prisma_string(index.where)})"
    return text + ")", []


def _advice(index: IndexDef, problems: Sequence[str]) -> str:
    text = (f'"{index.name}" ({index}): Prisma\'s schema cannot express '
            f"{_and(problems)}, so it is not declared in schema.prisma. The next `prisma "
            f"migrate dev` may take it for drift and write a migration that drops it: create "
            f"migrations with `prisma migrate dev --create-only` and delete any DROP INDEX "
            f'"{index.name}" from them before applying')
    if any(p.startswith("a partial") for p in problems) and len(problems) == 1:
        text += (", or, with Prisma 7.4 or later, enable the partialIndexes preview feature "
                 "so that the index can be declared with where: raw(...)")
    return text + "."


def _and(items: Sequence[str]) -> str:
    """
    >>> _and(["a"]), _and(["a", "b"]), _and(["a", "b", "c"])
    ('a', 'a and b', 'a, b and c')
    """
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def add_prisma_indexes(schema: str, indexes: Sequence[IndexDef]) -> tuple[str, list[str]]:
    """Declare ``indexes`` in a ``schema.prisma`` text: the new text and notes.

    Each index becomes ``@@index([field, ...], map: "<index name>")`` (``@@unique`` when
    unique) in the model mapped to its table (``@@map``, else the model's name), with
    columns translated to field names (``@map``), ``sort: Desc`` for descending keys, and
    ``type:``/``ops:`` for the other access methods; a partial index gets ``where:`` only
    when the schema enables Prisma's ``partialIndexes`` preview feature. An index already
    declared (same map name, or the same declaration) is not added again. Every other
    byte of the text stays as it was. The notes name each index Prisma cannot express,
    and what to do so that ``prisma migrate dev`` does not drop it.
    """
    notes: list[str] = []
    newline = "\r\n" if "\r\n" in schema else "\n"
    partial = _partial_previewed(schema)
    for index in indexes:
        lines = schema.splitlines(keepends=True)
        model = _model_of(schema, index)
        if model is None:
            notes.append(f'"{index.name}" ({index}): no model of schema.prisma maps to table '
                         f'{index.table!r} (a model of that name, or @@map("{index.table}")), '
                         "so it is not declared. If a model holds that table under another "
                         "name, declare the index there by hand; otherwise the next `prisma "
                         "migrate dev` may take it for drift.")
            continue
        if index.name in model.names:
            continue
        text, problems = _declaration(index, model, partial)
        if text is None:
            notes.append(_advice(index, problems))
            continue
        if _shape(text) in model.declarations:
            continue
        new = [f"{model.indent}{text}{newline}"]
        after = model.last_index if model.last_index is not None else model.last_attribute
        if after is not None:
            at = after + 1  # with the other indexes, else after the last @@ attribute
        else:
            at = model.end
            if lines[at - 1].strip():
                new.insert(0, newline)
        lines[at:at] = new
        schema = "".join(lines)
    return schema, notes


def _partial_previewed(schema: str) -> bool:
    """Whether the schema enables Prisma's ``partialIndexes`` preview feature."""
    code = "\n".join(_code(line) for line in schema.splitlines())
    return any('"partialIndexes"' in found for found in _PREVIEW.findall(code))


def _model_of(schema: str, index: IndexDef) -> _Model | None:
    """The model mapped to the index's table (and schema, when the model names one)."""
    return next((m for m in _models(schema.splitlines(keepends=True))
                 if m.table == index.table and (m.schema is None or m.schema == index.schema)),
                None)
