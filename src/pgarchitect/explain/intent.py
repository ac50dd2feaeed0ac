"""The intent: one sentence that says what a statement does.

Each kind of statement has its verb ("Lists", "Looks up", "Counts", "Adds",
"Changes", "Removes"); the object is the subject's rows as a noun phrase built by
:func:`phrase` from the conditions (:mod:`.conditions`), then how the rows come
(newest first, up to 20). Aggregates name what they compute, for each group.
"""

from __future__ import annotations

import re
from typing import Final

from pgarchitect.explain.conditions import Filters
from pgarchitect.explain.reading import AGGREGATE_CALL, CALL, Reading, in_sublink
from pgarchitect.explain.shape import ARITHMETIC, Agg
from pgarchitect.explain.words import (
    article,
    comma,
    humanise,
    humanise_column,
    join_words,
    plural,
    sentence,
    words,
)

# Columns whose names say what a row is called: grouping by lesson.title is by lesson.
_NAME_WORDS: Final = frozenset({"name", "title", "label", "email", "username", "slug"})
_RANK_FUNCS: Final = ("row_number", "rank", "dense_rank")
_OPERATOR_WORDS: Final = {">": "more than", ">=": "at least", "<": "fewer than",
                          "<=": "at most", "=": "exactly"}
# sum, avg, max and min of ``a <op> b``; of ``end - start`` when both are times.
_OPERATION_WORDS: Final = {"sum": "total", "avg": "average", "max": "highest", "min": "lowest"}
_DURATION_WORDS: Final = {"sum": "total", "avg": "average", "max": "longest",
                          "min": "shortest"}


def intent_of(r: Reading, f: Filters) -> str:
    """What the statement does, in one sentence."""
    kind = r.analysis.kind
    if kind == "select":
        text = _select(r, f)
    elif kind == "insert":
        text = _insert(r)
    elif kind == "update":
        text = _update(r, f)
    elif kind == "delete":
        text = f"Removes {f'all {r.noun(many=True)}' if f.empty else phrase(r, f, joins=False)}"
    elif kind == "merge":
        text = f"Merges rows into {r.noun(many=True)}"
    else:
        text = _utility(r)
    return sentence(text)


def phrase(r: Reading, f: Filters, *, many: bool = True, quantifier: str = "",
           possessor: str | None = None, joins: bool = True, per: str = "",
           by: str = "") -> str:
    """The subject as a noun phrase with its conditions."""
    head = f.before(r.noun(many=many))
    if by:
        head += f" by {by}"
    if quantifier:
        head = f"{quantifier} {head}"
    owners = list(f.owners)
    if possessor is None and len(owners) == 1:
        possessor = f"a given {owners.pop()}"
    # With a possessor already ("each lesson's"), the owners go after the noun.
    if possessor is not None:
        head = f"{possessor}'s {head}"
    elif not quantifier and not many:
        head = article(head)
    parts = [head]
    given = [*owners, *f.given]
    if given:
        parts.append(f"of a given {join_words(given)}")
    parts.extend(f.after)
    if joins and (joined := _with_joined(r, f, many)):
        # After the conditions, so that they stay with the noun they are about.
        parts.append(f", {joined}" if f.after else joined)
    if per:
        parts.append(per)
    return " ".join(parts).replace(" , ", ", ")


def _with_joined(r: Reading, f: Filters, many: bool) -> str:
    """The other tables a list shows its rows with: "with their course"."""
    if r.subject is None:
        return ""
    skip = {r.subject} | {(k.column.schema, k.column.table) for k in r.keys
                          if k.column is not None}
    whose = "their" if many else "its"
    out = []
    for rel in r.base:
        key = (rel.schema, rel.name)
        if key in skip or key in f.absent or rel.name not in r.shape.main_tables:
            continue
        skip.add(key)
        noun = r.table_noun(*key)
        if any(r.on_subject(x) and (y.schema, y.table) == key for x, y in r.links):
            out.append(f"{whose} {noun}")
        elif any((x.schema, x.table) == key and r.on_subject(y) for x, y in r.links):
            out.append(f"{whose} {plural(noun)}")
        else:
            out.append(plural(noun))
    return f"with {join_words(out)}" if out else ""


def _order(r: Reading) -> tuple[str, str]:
    """How the rows come, and the quantifier it makes: ("newest first", "latest")."""
    k = r.first_order
    if k is None:
        return "", ""
    desc = k.direction == "desc"
    expr = k.expression or ""
    if k.column is None and AGGREGATE_CALL.match(expr):
        if expr.lower().startswith("count"):
            return ("most first" if desc else "fewest first"), ""
        return ("highest first" if desc else "lowest first"), ""
    if r.shuffled:
        return "in a pseudo-random order", "random"
    if k.column is not None and r.is_time(k.column):
        return ("newest first", "latest") if desc else ("oldest first", "earliest")
    if k.column is not None:
        col = r.qualified_noun(k.column)
        return (f"sorted by {col}, highest first" if desc else f"sorted by {col}"), ""
    return "sorted", ""


def _limit_words(r: Reading) -> str:
    """The LIMIT: "20", "given number of" for a parameter, "" for none."""
    limit = r.analysis.limit
    if limit is None or limit.count is None:
        return ""
    return str(limit.count) if isinstance(limit.count, int) else "given number of"


# -- reading rows ----------------------------------------------------------------------


def _select(r: Reading, f: Filters) -> str:
    if r.shape.set_ops:
        ops = join_words(list(dict.fromkeys(r.shape.set_ops)))
        tables = join_words([plural(r.table_noun(t.schema, t.name)) for t in r.base])
        return f"Combines ({ops}) rows of {tables or 'values'}"
    if r.subject is None:
        funcs = [t.name for t in r.analysis.relations if t.kind == "function"]
        return f"Calls {join_words(funcs)}" if funcs else \
            "Computes values without reading a table"
    latest = _latest_per_group(r, f)
    if latest:
        return latest
    if r.aggregating:
        return _aggregate(r, f)
    order, quantifier = _order(r)
    limit = _limit_words(r)
    every = "all " if f.empty else ""
    if f.lookup:
        by = join_words(f.lookup)
        if f.lookup_many:
            by = f"a given list of {by}"
        return f"Looks up {phrase(r, f, many=f.lookup_many, by=by)}"
    if quantifier == "random":
        size = f"{limit} " if limit and limit[0].isdigit() else \
            "up to a given number of " if limit else ""
        return f"Picks a pseudo-random sample of {size}{phrase(r, f)}"
    if r.paging:
        return f"Pages through {every}{phrase(r, f)}{comma(order)}"
    if r.analysis.distinct:
        cols = [r.qualified_noun(k.column) for k in r.analysis.distinct
                if k.column is not None and not k.scope]
        what = f"the distinct {join_words([plural(c) for c in cols])} of " if cols else \
            "distinct "
        return f"Lists {what}{phrase(r, f)}{comma(order)}"
    if any(p.role == "like" for p in r.conditions):
        return f"Searches {phrase(r, f)}{comma(order)}"
    if quantifier in ("latest", "earliest") and limit:
        one = limit == "1"
        number = f"{limit} " if limit[0].isdigit() and not one else ""
        the = "" if f.owners else "the "  # "a given user's latest", "the latest"
        verb = "Finds" if one else "Lists"
        return f"{verb} {phrase(r, f, many=not one, quantifier=f'{the}{number}{quantifier}')}"
    if limit:
        size = f"up to {limit}" if limit[0].isdigit() else "up to a given number of"
        return f"Lists {size} {phrase(r, f)}{comma(order)}"
    return f"Lists {every}{phrase(r, f)}{comma(order)}"


def _latest_per_group(r: Reading, f: Filters) -> str | None:
    """The newest row per group (row_number() OVER (PARTITION BY .. ORDER BY .. DESC) = 1)."""
    for p in r.analysis.predicates:
        expr = (p.expression or "").lower()
        if " over " not in expr or not expr.startswith(_RANK_FUNCS):
            continue
        window = next((w for w in r.shape.windows
                       if w.func in _RANK_FUNCS and w.partition and w.order), None)
        if window is None:
            return None
        if p.operator == "=" and p.value == "1":
            how_many = ""
        elif p.operator in ("<=", "<") and (p.value or "").isdigit():
            n = int(p.value or "0") - (p.operator == "<")
            how_many = f"{n} "
        else:
            return None
        part = r.entity(window.partition[0]) or r.qualified_noun(window.partition[0])
        col, desc = window.order[0]
        by = ""
        if r.is_time(col):
            which = "latest" if desc else "earliest"
        else:
            which, by = ("top" if desc else "bottom"), f" by {r.column_noun(col)}"
        quantifier = f"{which} {how_many}" if by else f"{how_many}{which}"
        noun = phrase(r, f, many=bool(how_many), possessor=f"each {part}",
                      quantifier=quantifier.strip(), joins=False)
        return f"Finds {noun}{by}"
    return None


# -- aggregates ------------------------------------------------------------------------


def _aggregate(r: Reading, f: Filters) -> str:
    group = _group(r)
    order, _ = _order(r)
    limit = _limit_words(r)
    phrases = list(dict.fromkeys(_agg_words(r, g) for g in r.aggregates))
    first_key = r.first_order
    if (first_key is not None and first_key.column is None and limit and group
            and AGGREGATE_CALL.match(first_key.expression or "")):
        # ORDER BY count(*) DESC LIMIT 10: the top ten groups.
        desc = first_key.direction == "desc"
        size = f"{limit} " if limit[0].isdigit() else ""
        things = join_words([n for n, _ in group])
        if (first_key.expression or "").lower().startswith("count"):
            best = f"the {'most' if desc else 'fewest'} {phrase(r, f, joins=False)}"
        else:
            what = _agg_text_words(r, first_key.expression or "")
            best = f"the {'highest' if desc else 'lowest'} {what} of {phrase(r, f, joins=False)}"
        tail = "" if size else " (up to a given number)"
        return f"Finds the {size}{plural(things)} with {best}{tail}"
    possessor = None
    per = ""
    group_noun = ""
    if group:
        entities = [n for n, thing in group if thing]
        if len(group) == 1 and group[0][1] and not f.owners:
            possessor = f"each {group[0][0]}"
        else:
            per = f"per {join_words([n for n, _ in group])}"
        group_noun = entities[0] if entities else group[0][0]
    subject = phrase(r, f, possessor=possessor, per=per, joins=False)
    distinct = [g.column for g in r.aggregates if g.func == "count" and g.distinct
                and g.column is not None]
    if not r.shape.parsed and not phrases:
        # Cut short: the aggregates are in the part analysis could not keep.
        text = f"Summarises {subject}"
    elif phrases in ([], ["count"]):
        text = f"Counts {subject}"
    elif len(r.aggregates) == 1 and distinct:
        text = f"Counts the distinct {plural(r.column_noun(distinct[0]))} of {subject}"
    else:
        text = f"Computes the {join_words(phrases)} of {subject}"
    having = _having(r, group_noun) if group_noun else ""
    if having:
        text += f" and {having}"
    return text + comma(order)


def _group(r: Reading) -> list[tuple[str, bool]]:
    """The group keys in words, each with whether it is a thing (user) or a value."""
    out: list[tuple[str, bool]] = []
    for k in r.keys:
        ref, expr = k.column, (k.expression or "")
        unit = re.match(r"date_trunc\('(\w+)'", expr)
        if unit:
            out.append((unit.group(1), False))
        elif ref is None:
            out.append((humanise(expr) if expr else "group", False))
        elif (entity := r.entity(ref)) is not None:
            out.append((entity, True))
        elif not r.on_subject(ref) and (words(ref.column) or [""])[-1] in _NAME_WORDS:
            out.append((r.noun(ref), True))
        else:
            out.append((r.qualified_noun(ref), False))
    seen: dict[str, bool] = {}
    for noun, thing in out:
        seen.setdefault(noun, thing)
    return list(seen.items())


def _agg_words(r: Reading, agg: Agg) -> str:
    """What an aggregate computes: "average duration in seconds", "count"."""
    col = r.column_noun(agg.column) if agg.column is not None else None
    time = agg.column is not None and r.is_time(agg.column)
    if agg.operation is not None and agg.func in _OPERATION_WORDS:
        left, op, right = agg.operation
        if op == "-" and r.is_time(left) and r.is_time(right):
            # avg(closed_at - created_at): how long from one event to the other.
            text = f"{_DURATION_WORDS[agg.func]} time from {r.event(right)} to {r.event(left)}"
        else:
            text = f"{_OPERATION_WORDS[agg.func]} {r.column_noun(left)} {ARITHMETIC[op]} " \
                   f"{r.column_noun(right)}"
    elif agg.func == "count":
        text = f"number of distinct {plural(col)}" if agg.distinct and col else "count"
    elif col is None:
        text = agg.func
    elif agg.func == "sum":
        text = col if col.startswith("total") else f"total {col}"
    elif agg.func == "avg":
        text = f"average {col}"
    elif agg.func == "max":
        text = f"{'latest' if time else 'highest'} {col}"
    elif agg.func == "min":
        text = f"{'earliest' if time else 'lowest'} {col}"
    elif agg.func in ("array_agg", "string_agg", "json_agg", "jsonb_agg"):
        text = f"list of {plural(col)}"
    elif agg.func == "bool_or":
        text = f"whether any is {col}"
    elif agg.func in ("bool_and", "every"):
        text = f"whether all are {col}"
    else:
        text = f"{agg.func} of {col}"
    if agg.filter_column is not None:
        text += f" by {r.column_noun(agg.filter_column)}"
    return text


def _agg_text_words(r: Reading, expression: str) -> str:
    """An aggregate written in HAVING or ORDER BY, by the call it starts with."""
    match = CALL.match(expression)
    func = match.group(1).lower() if match else ""
    found = [g for g in r.aggregates if g.func == func]
    return _agg_words(r, found[0]) if found else expression


def _having(r: Reading, group_noun: str) -> str:
    parts = []
    for p in r.analysis.predicates:
        if p.clause != "having" or in_sublink(p.scope) or not p.expression:
            continue
        value = "a given number" if p.value_kind == "param" else p.value or "?"
        op = _OPERATOR_WORDS.get(p.operator, p.operator)
        if p.expression.lower().startswith("count"):
            parts.append(f"with {op} {value}")
        else:
            what = _agg_text_words(r, p.expression)
            parts.append(f"whose {what} is {op.replace('fewer', 'less')} {value}")
    return f"keeps {plural(group_noun)} {join_words(parts)}" if parts else ""


# -- writing rows ----------------------------------------------------------------------


def _insert(r: Reading) -> str:
    noun = r.noun()
    shape = r.shape
    cols = [r.column_noun(c) for c in r.analysis.insert_columns]
    if shape.insert_select:
        sources = [plural(r.table_noun(t.schema, t.name)) for t in r.base
                   if (t.schema, t.name) != r.subject]
        src = f" from {join_words(sources)}" if sources else " from a query"
        text = f"Adds {plural(noun)}{src}"
    elif shape.values_rows > 1:
        text = f"Adds {shape.values_rows} {plural(noun)}"
    elif cols and len(cols) <= 4:
        text = f"Adds {article(noun)} with its {join_words(cols)}"
    elif cols:
        text = f"Adds {article(noun)} ({len(cols)} columns)"
    else:
        text = f"Adds {article(noun)}"
    if shape.on_conflict == "update":
        text = text.replace("Adds", "Adds or updates", 1)
    elif shape.on_conflict == "nothing":
        many = shape.values_rows > 1 or shape.insert_select
        text += ", unless they already exist" if many else ", unless it already exists"
    return text


def _update(r: Reading, f: Filters) -> str:
    cols = join_words(list(dict.fromkeys(r.column_noun(c) for c in r.analysis.set_columns)))
    if f.lookup and not f.lookup_many:
        target = phrase(r, f, many=False, by=join_words(f.lookup), joins=False)
    elif f.empty:
        target = f"all {r.noun(many=True)}"
    else:
        target = phrase(r, f, joins=False)
    return f"Changes the {cols or 'columns'} of {target}"


def _utility(r: Reading) -> str:
    copy = r.shape.copy
    if copy is None:
        name = (r.shape.utility or "utility").removesuffix("Stmt")
        return f"Runs a utility statement ({humanise(name)})"
    noun = plural(r.table_noun(copy.schema or "public", copy.table))
    if not copy.loading:
        return f"Exports {noun} (COPY)"
    names = [humanise_column(c) for c in copy.columns]
    detail = f" with their {join_words(names)}" if names and len(names) <= 4 else ""
    return f"Bulk-loads {noun}{detail} (COPY)"
