"""The ``pgarchitect`` command: parse input, call one library function, render."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
import psycopg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pgarchitect import __version__, report
from pgarchitect.errors import PgArchitectError
from pgarchitect.settings import Config, example_config, load_config, mask_conninfo, redact

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

STATUS_STYLE = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def _config(ctx: click.Context) -> Config:
    cfg = ctx.obj
    assert isinstance(cfg, Config)
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pgarchitect")
@click.option("--log-sql", is_flag=True, default=None, help="Print every SQL statement run.")
@click.pass_context
def cli(ctx: click.Context, log_sql: bool | None) -> None:
    """pgarchitect: finds what makes a PostgreSQL database slow and proves the fix."""
    ctx.obj = load_config({"log_sql": log_sql})


@cli.command()
@click.option("--example", is_flag=True, help="Print a commented pgarchitect.toml instead.")
@click.pass_context
def config(ctx: click.Context, example: bool) -> None:
    """Show the effective settings and where each comes from (secrets masked)."""
    if example:
        out.print(example_config(), markup=False)
        return
    table = Table("setting", "value", "source")
    for name, value, source in _config(ctx).display_rows():
        table.add_row(escape(name), escape(value), escape(source))
    out.print(table)


@cli.command()
@click.argument("dsn", required=False)
@click.pass_context
def doctor(ctx: click.Context, dsn: str | None) -> None:
    """Check what works on a database and print the command that fixes each gap."""
    from pgarchitect import db
    from pgarchitect.doctor import diagnose, least_privilege_sql

    cfg = _config(ctx)
    conninfo = db.target_conninfo(cfg, dsn)
    with db.connect(conninfo, cfg) as conn:
        caps = db.capabilities(conn)
    checks = diagnose(caps)
    out.print(f"PostgreSQL {caps.version} · database {caps.database} · role {caps.role}")
    for c in checks:
        out.print(f"  {STATUS_STYLE[c.status]}  {c.name}: {c.detail}", soft_wrap=True)
        if c.fix:
            out.print(f"        fix: {c.fix}", markup=False, soft_wrap=True)
    out.print("\nLeast-privilege role for pgarchitect (run as a superuser):")
    out.print(least_privilege_sql(caps.database), markup=False)
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        err.print(f"[red]{len(failed)} check(s) failed:[/] " + "; ".join(c.fix for c in failed),
                  soft_wrap=True)
        ctx.exit(1)


@cli.group()
def server() -> None:
    """Run the embedded PostgreSQL 18 (pgvector, pg_stat_statements)."""


def _embedded(ctx: click.Context) -> Any:
    from pgarchitect.server import embedded_server

    cfg = _config(ctx)
    return embedded_server(cfg.data_dir, port=cfg.get_int("server_port"))


@server.command("start")
@click.pass_context
def server_start(ctx: click.Context) -> None:
    """Create (first time) and start the embedded server."""
    srv = _embedded(ctx.parent or ctx)
    status, already = srv.start()
    verb = "already running" if already else "started"
    out.print(f"Embedded PostgreSQL {status.version} {verb} (pid {status.pid}) "
              f"on 127.0.0.1:{status.port}, data in {status.datadir}")


@server.command("stop")
@click.pass_context
def server_stop(ctx: click.Context) -> None:
    """Stop the embedded server."""
    stopped = _embedded(ctx.parent or ctx).stop()
    out.print("Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL was not running.")


@server.command("status")
@click.pass_context
def server_status(ctx: click.Context) -> None:
    """Say whether the embedded server runs (exit 1 when it does not)."""
    status = _embedded(ctx.parent or ctx).status()
    if status.running:
        out.print(f"running (pid {status.pid}) on 127.0.0.1:{status.port}, data in "
                  f"{status.datadir}")
    else:
        out.print(f"not running (data in {status.datadir})")
        ctx.exit(1)


@server.command("url")
@click.option("--dbname", help="A database of the server (default: the one commands use when "
              "none is named: pgarchitect_demo after `pgarchitect demo`, else postgres).")
@click.pass_context
def server_url(ctx: click.Context, dbname: str | None) -> None:
    """Print the URL (with its password) of the database commands use when none is named."""
    from pgarchitect import db

    srv = _embedded(ctx.parent or ctx)
    out.print(srv.url(dbname or db.embedded_database(_config(ctx), srv)[0]),
              markup=False, soft_wrap=True)


def _sql_file(ctx: click.Context, param: click.Parameter, path: Path | None) -> Path | None:
    """Refuse a --file that is no SQL text (binary, not UTF-8, too large) before any
    database is opened, so that a bad file changes nothing there."""
    from pgarchitect.workload.text import read_sql_file

    if path is not None:
        read_sql_file(path)
    return path


def _workload_options(command: Any) -> Any:
    """The options that name a workload, shared by `workload` and `advise`."""
    options = [
        click.argument("dsn", required=False),
        click.option("--since", help="A window such as 7d or 24h: counters since the "
                     "snapshot taken then (see `pgarchitect snapshot`)."),
        click.option("-s", "--statement", "statements", multiple=True,
                     help="A statement (repeatable)."),
        click.option("--file", type=click.Path(path_type=Path), callback=_sql_file,
                     help="A file of SQL statements."),
        click.option("--log", type=click.Path(path_type=Path), help="A PostgreSQL server log."),
        click.option("--log-format", type=click.Choice(["auto", "stderr", "csvlog", "jsonlog"]),
                     default="auto", show_default=True),
        click.option("--pg-stat-statements", "pgss", is_flag=True,
                     help="Read pg_stat_statements (the default when no other source is named)."),
        click.option("--database", help="Statements of this database of the server (default: "
                     "the connected one)."),
        click.option("--min-mean-ms", type=float, help="Keep statements whose mean is above this."),
        click.option("--min-calls", type=int, help="Keep statements called more often than this."),
        click.option("--top", type=int, help="Keep this many, by total time."),
        click.option("--include", multiple=True, help="Only statements touching this table."),
        click.option("--exclude", multiple=True, help="No statements touching this table."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _workload_request(cfg: Config, opts: dict[str, Any]) -> Any:
    from pgarchitect.workload.collect import Request, filters_from, parse_window

    named = [bool(opts["statements"]), bool(opts["file"]), bool(opts["log"]), opts["pgss"]]
    if sum(named) > 1:
        raise click.UsageError("Name one source: -s, --file, --log or --pg-stat-statements.")
    filters = filters_from(cfg, min_mean_ms=opts["min_mean_ms"], min_calls=opts["min_calls"],
                           top=opts["top"], include_tables=opts["include"],
                           exclude_tables=opts["exclude"])
    return Request(dsn=opts["dsn"], since=parse_window(opts["since"]) if opts["since"] else None,
                   statements=opts["statements"], file=opts["file"], log=opts["log"],
                   log_format=opts["log_format"], database=opts["database"], filters=filters)


@cli.command()
@_workload_options
@click.pass_context
def workload(ctx: click.Context, /, **opts: Any) -> None:
    """The statements that cost the most, from pg_stat_statements, a log or SQL text."""
    from pgarchitect.workload.collect import collect

    cfg = _config(ctx)
    request = _workload_request(cfg, _target(cfg, opts))
    source, result = collect(cfg, request)
    if opts["as_json"]:
        out.print_json(data=report.workload_json(source, request.filters, result))
        return
    report.print_workload(out, source, request.filters, result)


def _advisor_options(command: Any) -> Any:
    """The options of the advisors and their measurement, shared by `advise` and `audit`."""
    options = [
        click.option("--budget", help="Storage budget for new indexes, e.g. 500MB (default: "
                     "the budget setting, else a quarter of the database's size)."),
        click.option("--whatif", type=click.Choice(["auto", "hypopg", "sandbox"]),
                     help="What-if engine (default: the whatif setting)."),
        click.option("--no-verify", is_flag=True, help="Skip EXPLAIN ANALYZE before/after."),
        click.option("--runs", type=click.IntRange(1, 20), default=3, show_default=True,
                     help="EXPLAIN ANALYZE runs per statement, before and after (median)."),
        click.option("--allow-writes", is_flag=True, help="Measure INSERT/UPDATE/DELETE too "
                     "(inside transactions rolled back)."),
        click.option("--allow-large", is_flag=True, help="Build indexes on tables above "
                     "sandbox_max_table_mb to measure them."),
        click.option("--no-kb", is_flag=True, help="Neither look up earlier cases in the "
                     "knowledge base nor store findings."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _target(cfg: Config, opts: dict[str, Any]) -> dict[str, Any]:
    """Say which database a command reads (on standard error), and name it in ``opts``."""
    if opts["statements"] or opts["file"] or opts["log"]:
        return opts
    from pgarchitect import db

    target = db.choose_target(cfg, opts["dsn"])
    err.print(f"Database: {target}", markup=False, soft_wrap=True)
    return {**opts, "dsn": target.conninfo or None}


@cli.command()
@_workload_options
@_advisor_options
@click.pass_context
def advise(ctx: click.Context, /, budget: str | None, whatif: str | None, no_verify: bool,
           runs: int, allow_writes: bool, allow_large: bool, no_kb: bool,
           **opts: Any) -> None:
    """Indexes that make the workload cheaper, proven on the planner and the data."""
    from pgarchitect.advisors.index.advise import AdviseRequest, run

    cfg = _config(ctx)
    opts = _target(cfg, opts)
    request = AdviseRequest(workload=_workload_request(cfg, opts), budget=budget,
                            whatif=whatif, verify=not no_verify, runs=runs,
                            allow_writes=allow_writes, allow_large=allow_large,
                            knowledge=not no_kb)
    advice = run(cfg, request)
    if opts["as_json"]:
        out.print_json(data=report.advice_json(advice))
        return
    report.print_advice(out, advice)


@cli.command()
@_workload_options
@_advisor_options
@click.option("--fresh", is_flag=True, help="Start a new run even when the last run of this "
              "database did not finish (by default it is continued).")
@click.option("--deliver", is_flag=True, help="Then deliver: migrations in delivery_out, a "
              "branch in delivery_repo, a pull request (github_repo), the weekly report.")
@click.pass_context
def audit(ctx: click.Context, /, budget: str | None, whatif: str | None, no_verify: bool,
          runs: int, allow_writes: bool, allow_large: bool, no_kb: bool, fresh: bool,
          deliver: bool, **opts: Any) -> None:
    """The weekly audit: slow statements, earlier cases, explanations, proposals measured,
    stored and classified by confidence. Nothing is changed."""
    from pgarchitect.audit import AuditRequest
    from pgarchitect.audit import run as run_audit

    cfg = _config(ctx)
    opts = _target(cfg, opts)
    request = AuditRequest(workload=_workload_request(cfg, opts), budget=budget,
                           whatif=whatif, verify=not no_verify, runs=runs,
                           allow_writes=allow_writes, allow_large=allow_large,
                           knowledge=not no_kb, resume=not fresh)
    with _progress() as progress:
        result = run_audit(cfg, request, progress=progress)
    delivered = None
    if deliver:
        from pgarchitect.delivery.deliver import run as run_delivery

        delivered = run_delivery(cfg, result, opts.get("dsn"))
    if opts["as_json"]:
        doc = result.to_json()
        if delivered is not None:
            doc["delivery"] = delivered.to_json()
        out.print_json(data=doc)
        return
    report.print_audit(out, result)
    if delivered is not None:
        report.print_delivery(out, delivered)


@cli.command()
@click.argument("finding_id")
@click.option("--dsn", help="The database to build it on (default: the database_url setting).")
@click.option("--yes", is_flag=True, help="Run it (without: say what would run, change nothing).")
@click.option("--timeout", default="1h", show_default=True,
              help="statement_timeout for the build (with a unit).")
@click.pass_context
def apply(ctx: click.Context, finding_id: str, dsn: str | None, yes: bool,
          timeout: str) -> None:
    """Build one finding's index on a database you name (CONCURRENTLY, lock_timeout,
    checked valid after); never a database listed in production_databases."""
    from pgarchitect.delivery.apply import apply as apply_finding
    from pgarchitect.settings import duration_ms

    if duration_ms(timeout) in (None, 0):
        raise click.BadParameter(f"{timeout!r} is not a duration such as 30min or 2h",
                                 param_hint="--timeout")
    done = apply_finding(_config(ctx), finding_id, dsn=dsn, yes=yes, timeout=timeout)
    if done.existed:
        out.print(f"Index {done.index} was already on {done.target}: nothing built.",
                  soft_wrap=True)
    else:
        out.print(f"Built {done.index} on {done.target}: {done.statement}", soft_wrap=True,
                  markup=False)
    out.print(f"Marked {len(done.marked)} finding(s) applied; the next audit measures the "
              "real gain.")


@contextmanager
def _progress(always: bool = False) -> Iterator[Any]:
    """A progress callback that draws bars on standard error (unless it is no terminal)."""
    if not (always or err.is_terminal):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("{task.description:<12}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield progress


@cli.command()
@click.argument("dsn", required=False)
@click.option("--list", "show", is_flag=True, help="List the stored snapshots instead.")
@click.pass_context
def snapshot(ctx: click.Context, dsn: str | None, show: bool) -> None:
    """Store the current pg_stat_statements counters, to compare windows later."""
    from pgarchitect.workload.collect import snapshots, take_snapshot

    if show:
        table = Table("id", "taken at", "statements", "stats reset", title="Snapshots")
        for snap in snapshots(_config(ctx), dsn):
            table.add_row(str(snap.id), f"{snap.taken_at:%Y-%m-%d %H:%M:%S %Z}",
                          str(snap.statements),
                          "" if snap.stats_reset is None else f"{snap.stats_reset:%Y-%m-%d %H:%M}")
        out.print(table)
        return
    snap = take_snapshot(_config(ctx), dsn)
    out.print(f"Snapshot {snap.id} of {snap.target}: {snap.statements} statements, "
              f"taken at {snap.taken_at:%Y-%m-%d %H:%M:%S %Z}.")


@cli.command()
@click.option("--reset", is_flag=True, help="Drop the demo database and load it again.")
@click.option("--small", is_flag=True, help="Load a small data set (seconds, not a minute).")
@click.option("--rounds", type=click.IntRange(min=1), help="Rounds of application traffic.")
@click.option("--no-audit", is_flag=True, help="Stop after listing the slow statements.")
@click.pass_context
def demo(ctx: click.Context, reset: bool, small: bool, rounds: int | None,
         no_audit: bool) -> None:
    """Load the demo education platform, play its traffic, show what is slow, audit it."""
    from pgarchitect.demo import data, runner

    with _progress(always=True) as progress:
        result = runner.run(
            _config(ctx), reset=reset, scale=data.Scale.small() if small else None,
            rounds=rounds, progress=progress, run_audit=not no_audit,
        )
    if result.loaded is None:
        out.print("Reused the loaded demo database (--reset loads it again).")
    else:
        rows = ", ".join(f"{n:,} {t}" for t, n in result.loaded.items())
        out.print(f"Loaded {rows} in {result.load_seconds:.1f} s.")
    out.print(f"Played {result.traffic.total_calls:,} application calls in "
              f"{result.traffic.elapsed_s:.1f} s.\n")
    report.print_statements(out, result.workload.statements, "Slow statements "
                            f"(pg_stat_statements): {result.filters.describe()}")
    if result.audit is not None:
        out.print()
        report.print_audit(out, result.audit)
    if result.delivery is not None:
        report.print_delivery(out, result.delivery)
    out.print(f"Demo database: {mask_conninfo(result.conninfo)} (commands that name no "
              "database now use it)", soft_wrap=True)


@cli.group()
def kb() -> None:
    """The knowledge base: every finding, taken or not, and similar earlier cases."""


@contextmanager
def _knowledge(ctx: click.Context, dsn: str | None = None, *, create: bool = True,
               required: bool = True) -> Iterator[Any]:
    """The knowledge base (kb_url, else the target database) and the target connection.

    Reads pass ``create=False``: they create nothing in the database. When there is no
    knowledge base yet, a read that is ``required`` (one finding) fails; the others
    get None, and say so on standard error.
    """
    from pgarchitect import db
    from pgarchitect.knowledge.audit import knowledge_base
    from pgarchitect.knowledge.kb import NoKnowledgeBase

    cfg = _config(ctx)
    with db.connect(db.target_conninfo(cfg, dsn), cfg) as target, ExitStack() as stack:
        try:
            base = stack.enter_context(knowledge_base(cfg, target, create=create))
        except NoKnowledgeBase as exc:
            if required:
                raise
            err.print(f"note: {exc}", soft_wrap=True, markup=False)
            base = None
        for note in base.notes if base is not None else ():
            err.print(f"note: {note}", soft_wrap=True)
        yield base, target


def _finding_row(table: Table, f: Any) -> None:
    gain = ("" if f.measured_gain_pct is None else f"{f.measured_gain_pct:.0f}%")
    applied = ("" if f.applied_gain_pct is None else f"{f.applied_gain_pct:.0f}%")
    table.add_row(f.short_id, f.created_at.strftime("%Y-%m-%d") if f.created_at else "",
                  f.kind, f.status, gain, applied, report.short(f.recommendation_sql, 60),
                  report.short(f.query, 70))


@kb.command("list")
@click.argument("dsn", required=False)
@click.option("--status", type=click.Choice(["proposed", "pr_open", "applied", "rejected",
                                             "superseded"]), help="Only findings with it.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, as `kb export` writes.")
@click.pass_context
def kb_list(ctx: click.Context, dsn: str | None, status: str | None, limit: int,
            as_json: bool) -> None:
    """The newest findings."""
    with _knowledge(ctx, dsn, create=False, required=False) as (base, _):
        if base is None:
            return
        found = base.recent(status=status, limit=limit)
        total = base.count()
    if as_json:
        for f in found:
            click.echo(json.dumps(f.to_json(), default=str))
        return
    table = Table("id", "created", "kind", "status", "measured", "applied",
                  "recommendation", title=f"Findings ({len(found)} of {total})")
    table.add_column("statement", min_width=30, ratio=1)
    for f in found:
        _finding_row(table, f)
    out.print(table)


@kb.command("show")
@click.argument("finding_id")
@click.argument("dsn", required=False)
@click.pass_context
def kb_show(ctx: click.Context, finding_id: str, dsn: str | None) -> None:
    """One finding, whole."""
    with _knowledge(ctx, dsn, create=False) as (base, _):
        f = base.get(finding_id)
    for key, value in f.to_json().items():
        if key in ("embedding", "features") or value in (None, "", {}):
            continue
        out.print(f"[bold]{key}[/]: {value}", soft_wrap=True)


@kb.command("similar")
@click.argument("statement")
@click.argument("dsn", required=False)
@click.option("--limit", type=click.IntRange(1, 50),
              help="Earlier cases to replay (default: the kb_candidates setting).")
@click.pass_context
def kb_similar(ctx: click.Context, statement: str, dsn: str | None, limit: int | None) -> None:
    """Earlier cases like STATEMENT, each replayed on it: score, what was checked, verdict.

    Nothing is changed: an index is planned hypothetically (HypoPG) or built in a
    transaction that is rolled back.
    """
    from pgarchitect.advisors import ADVISORS, checkers
    from pgarchitect.advisors.base import Context
    from pgarchitect.analysis import analyze
    from pgarchitect.catalog import DatabaseCatalog
    from pgarchitect.knowledge.audit import Session, known_cases, spool_of
    from pgarchitect.workload import Statement
    from pgarchitect.workload.snapshots import target_of

    cfg = _config(ctx)
    with _knowledge(ctx, dsn, create=False, required=False) as (base, target):
        if base is None:
            return
        catalog = DatabaseCatalog(target)
        analysis = analyze(statement, catalog.relations)
        if analysis.error:
            raise click.BadParameter(analysis.error, param_hint="STATEMENT")
        state = Session(base, target_of(target), spool_of(cfg))
        with checkers(Context(target, cfg, catalog), ADVISORS) as replay:
            lookup = known_cases(state, [Statement(query=statement)], [analysis], replay,
                                 limit=limit or cfg.get_int("kb_candidates"))[0]
    for note in state.notes:
        err.print(f"note: {note}", soft_wrap=True, markup=False)
    if not lookup.checked:
        out.print(f"No earlier case scores {base.threshold:g} (kb_threshold) or more.")
    for c in lookup.checked:
        f = c.case.finding
        colour = {"solved": "green", "rejected": "yellow", "applied": "cyan"}.get(
            c.check.verdict, "dim")
        out.print(f"[bold]{c.case.score:.2f}[/] [{colour}]{c.check.verdict}[/]  {f.short_id}  "
                  f"{f.kind}, {f.status}, {f.database}  {report.short(f.query, 80)}",
                  soft_wrap=True)
        out.print(f"      checked: {c.check.checked}", markup=False, soft_wrap=True)
        out.print(f"      retrieved by: {'; '.join(c.case.reasons)}", markup=False,
                  soft_wrap=True)
    known = lookup.known
    if known is not None:
        out.print(f"\nAn audit skips it. {known.answer.citation()}", markup=False,
                  soft_wrap=True)
    elif lookup.checked:
        out.print("\nNo earlier fix solves it: an audit works on it.")
    if lookup.outcome:
        out.print(lookup.outcome, markup=False, soft_wrap=True)


@kb.command("mark")
@click.argument("finding_id")
@click.argument("status", type=click.Choice(["applied", "rejected", "pr_open", "proposed",
                                             "superseded"]))
@click.option("--note", help="Why, in a few words (kept with the status).")
@click.option("--by", help="Who decided (default: the OS user).")
@click.option("--dsn", help="Target database (default: the database_url setting).")
@click.pass_context
def kb_mark(ctx: click.Context, finding_id: str, status: str, note: str | None,
            by: str | None, dsn: str | None) -> None:
    """Record what became of a finding; an applied one is measured again by the next audit."""
    with _knowledge(ctx, dsn) as (base, _):
        f = base.mark(finding_id, status, by=by, note=note)
    out.print(f"Finding {f.short_id} is {f.status} (by {f.status_by}).")


@kb.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True), default="-")
@click.option("--dsn", help="Target database (default: the database_url setting).")
@click.pass_context
def kb_export(ctx: click.Context, file: str, dsn: str | None) -> None:
    """Every finding as JSON lines (to FILE, or standard output)."""
    with _knowledge(ctx, dsn, create=False, required=False) as (base, _), \
            click.open_file(file, "w") as stream:
        n = 0
        for line in base.export() if base is not None else ():
            stream.write(line + "\n")
            n += 1
    err.print(f"Exported {n} findings.")


@kb.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dsn", help="Target database (default: the database_url setting).")
@click.pass_context
def kb_import(ctx: click.Context, file: str, dsn: str | None) -> None:
    """Findings from JSON lines (`kb export`); bad lines are reported, the rest imported."""
    from rich.markup import escape

    from pgarchitect.knowledge.kb import read_import_file

    lines = read_import_file(file)
    with _knowledge(ctx, dsn) as (base, _):
        report = base.import_lines(lines)
    out.print(f"Imported {report.imported} findings"
              + (f", {report.duplicates} already there" if report.duplicates else "") + ".")
    for number, why in report.errors:
        err.print(f"[yellow]line {number}:[/] {escape(why)}", soft_wrap=True)
    if report.errors:
        err.print(f"{len(report.errors)} lines of {file} were not imported: fix or remove them "
                  "and import the file again (what is in already is not added twice).",
                  soft_wrap=True, markup=False)
        sys.exit(1)


@cli.command()
@click.argument("dsn", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON.")
@click.option("--no-store", is_flag=True, help="Do not store the snapshot.")
@click.option("--alert", is_flag=True, help="Then evaluate the alert rules (alert_* settings), "
              "send what opened or resolved to Slack and by e-mail, and print the alerts.")
@click.pass_context
def health(ctx: click.Context, dsn: str | None, as_json: bool, no_store: bool,
           alert: bool) -> None:
    """The daily health snapshot: connections, latency (p95 estimated), cache, size, locks."""
    from pgarchitect.health import alerts
    from pgarchitect.health.collect import run
    from pgarchitect.health.render import print_health

    if alert and no_store:
        raise click.UsageError("--alert keeps the alerts' state in the store: drop --no-store.")
    done = None
    if alert:
        snap, done = alerts.check(_config(ctx), dsn)
    else:
        snap = run(_config(ctx), dsn, keep=not no_store)
    if as_json:
        doc = snap.to_json() if done is None else {**snap.to_json(), **done.to_json()}
        click.echo(json.dumps(doc, indent=2))
        return
    print_health(out, snap)
    for line in [] if done is None else alerts.lines(done):
        out.print(line, markup=False, soft_wrap=True)


@cli.group()
def hygiene() -> None:
    """Hygiene findings silenced for good, kept in the knowledge base's database."""


@hygiene.command("exclude")
@click.argument("finding_id")
@click.option("--reason", help="Why, in a few words (kept with it).")
@click.option("--dsn", help="Target database (default: the database_url setting).")
@click.pass_context
def hygiene_exclude(ctx: click.Context, finding_id: str, reason: str | None,
                    dsn: str | None) -> None:
    """Silence the hygiene finding FINDING_ID (rule:schema.name) for good."""
    from pgarchitect.advisors.hygiene import exclusions

    e = exclusions.exclude(_config(ctx), finding_id, reason, dsn)
    out.print(f"Excluded {e.finding_id} (by {e.by}); `pgarchitect hygiene include "
              f"{e.finding_id}` hears it again.", markup=False, soft_wrap=True)


@hygiene.command("excluded")
@click.option("--dsn", help="Target database (default: the database_url setting).")
@click.pass_context
def hygiene_excluded(ctx: click.Context, dsn: str | None) -> None:
    """The hygiene findings silenced for the target database."""
    from pgarchitect.advisors.hygiene import exclusions

    database, found = exclusions.excluded(_config(ctx), dsn)
    table = Table("id", "excluded", "by", "reason", title=f"Excluded in {database} "
                  f"({len(found)})")
    for e in found:
        table.add_row(escape(e.finding_id), e.at.strftime("%Y-%m-%d %H:%M"), escape(e.by),
                      escape(e.reason or ""))
    out.print(table)


@hygiene.command("include")
@click.argument("finding_id")
@click.option("--dsn", help="Target database (default: the database_url setting).")
@click.pass_context
def hygiene_include(ctx: click.Context, finding_id: str, dsn: str | None) -> None:
    """Hear the hygiene finding FINDING_ID again."""
    from pgarchitect.advisors.hygiene import exclusions

    e = exclusions.include(_config(ctx), finding_id, dsn)
    out.print(f"Included {e.finding_id} again.", markup=False, soft_wrap=True)


@cli.command()
@click.option("--host", help="Address to listen on (default: the api_host setting).")
@click.option("--port", type=click.IntRange(1, 65535),
              help="TCP port (default: the api_port setting).")
@click.option("--hash-token", is_flag=True, help="Read a token on standard input and print "
              "its hash for api_tokens, instead of serving.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, hash_token: bool) -> None:
    """Run the admin API (OpenAPI at /docs); without api_tokens, on a loopback address only."""
    try:
        from pgarchitect.service.app import server_config
        from pgarchitect.service.auth import hash_token as hashed
    except ImportError as exc:
        raise click.ClickException(f"{exc}: pip install 'pgarchitect[api]'") from None
    if hash_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise click.UsageError("No token on standard input: pipe one in, e.g. "
                                   "`openssl rand -hex 32 | tee token | pgarchitect serve "
                                   "--hash-token`.")
        click.echo(hashed(token))
        return
    import uvicorn

    uvicorn.Server(server_config(_config(ctx), host, port)).run()


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn pgarchitect's errors into one red line and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="pgarchitect", standalone_mode=False)
    except PgArchitectError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)
    # QueryCanceled is an OperationalError: the more precise message first.
    except psycopg.errors.QueryCanceled:
        err.print("[red]error:[/] a statement hit statement_timeout. Raise it with "
                  "PGARCHITECT_STATEMENT_TIMEOUT or narrow the work.", soft_wrap=True)
        sys.exit(3)
    except psycopg.OperationalError as exc:
        # libpq's text, with PGPASSWORD hidden should it ever echo it.
        detail = redact(str(exc).strip(), extra=(os.environ.get("PGPASSWORD", ""),))
        err.print(f"[red]error:[/] lost the connection to the database: "
                  f"{escape(detail)}. Check that the server is up and run again.",
                  soft_wrap=True)
        sys.exit(3)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("Aborted.")
        sys.exit(130)
    # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
