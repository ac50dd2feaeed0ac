"""Identifiers in words, and the small grammar the sentences are built with.

An identifier is put in words one way: split at case changes and underscores,
lower-cased, spelled as written ("BehaviorLog" is "behavior log", "createdAt"
"creation time"). A comment, when present, says what a table holds; when it is a
short noun ("Support tickets.") it also names the table's rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

# A run of capitals before a capitalised word (HTTPRequest), a word with an optional
# capital, a run of capitals, digits. Letters outside A-Z count as lower case.
_CAMEL: Final = re.compile(r"[A-Z]+(?=[A-Z][^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|[A-Z]+|\d+")
_IRREGULAR: Final = {
    "person": "people", "child": "children", "man": "men", "woman": "women",
    "datum": "data", "analysis": "analyses", "index": "indexes", "criterion": "criteria",
    "status": "statuses", "quiz": "quizzes", "address": "addresses", "bus": "buses",
}
_SINGULAR_OF: Final = {v: k for k, v in _IRREGULAR.items()}
# Participles of "<x>At" / "<x>_on" columns, as the noun of the event they record.
EVENT_NOUNS: Final = {
    "created": "creation", "updated": "update", "modified": "modification",
    "deleted": "deletion", "enrolled": "enrollment", "attempted": "attempt",
    "published": "publication", "closed": "closing", "opened": "opening", "paid": "payment",
    "applied": "application", "started": "start", "starts": "start", "ended": "end",
    "ends": "end", "finished": "finish", "completed": "completion", "expires": "expiry",
    "expired": "expiry", "shipped": "shipping", "delivered": "delivery",
    "cancelled": "cancellation", "canceled": "cancellation", "resolved": "resolution",
    "viewed": "view", "sent": "sending", "received": "receipt", "registered": "registration",
    "verified": "verification", "confirmed": "confirmation", "archived": "archiving",
    "submitted": "submission", "assigned": "assignment", "approved": "approval",
}
_UNITS: Final = {
    "sec": "seconds", "secs": "seconds", "seconds": "seconds", "ms": "milliseconds",
    "millis": "milliseconds", "min": "minutes", "mins": "minutes", "minutes": "minutes",
    "cents": "cents", "bytes": "bytes", "kb": "kilobytes", "mb": "megabytes",
    "pct": "percent", "percent": "percent",
}
# Last words of tables whose rows are entries of a record ("BehaviorLog").
_LOG_WORDS: Final = frozenset({"log", "history", "journal", "audit", "trail", "ledger"})
# Words that keep a comment from being used as a noun: a noun phrase has none of them.
_STOP_WORDS: Final = frozenset({
    "a", "an", "the", "of", "per", "for", "by", "in", "on", "from", "to", "with", "that",
    "which", "who", "when", "where", "whether", "if", "is", "are", "was", "and", "or",
    "not", "each", "every", "one", "row", "rows", "table", "stores", "holds", "contains",
})
_COMMENT_PREFIXES: Final = ("one row per ", "one row for each ", "a row per ",
                            "each row is an ", "each row is a ", "rows of ")


def words(name: str) -> list[str]:
    """The words of an identifier: snake_case, camelCase and PascalCase split, lower case.

    >>> words("BehaviorLog"), words("created_at"), words("HTTPRequestId"), words("page2")
    (['behavior', 'log'], ['created', 'at'], ['http', 'request', 'id'], ['page', '2'])
    """
    out: list[str] = []
    for part in re.split(r"[\W_]+", name):
        out.extend(w.lower() for w in _CAMEL.findall(part))
    return out


def humanise(name: str) -> str:
    """An identifier in words, spelled as written.

    >>> humanise("BehaviorLog"), humanise("order_items"), humanise("QuizAttempt")
    ('behavior log', 'order items', 'quiz attempt')
    """
    return " ".join(words(name)) or name


def humanise_column(name: str) -> str:
    """A column's name in words: ``<x>At`` is a time, ``<x>Id`` the thing it refers to.

    >>> [humanise_column(n) for n in ("createdAt", "user_id", "id", "isPublished",
    ...  "durationSec", "timestamp", "eventType", "expires_at", "placed_at", "last_login_at")]
    ['creation time', 'user', 'id', 'published', 'duration in seconds', 'time', \
'event type', 'expiry time', 'time placed', 'last login time']
    """
    ws = words(name)
    if not ws:
        return name
    if len(ws) > 1 and ws[-1] in ("id", "ids"):
        head = " ".join(ws[:-1])
        return plural(head) if ws[-1] == "ids" else head
    if len(ws) > 1 and ws[0] in ("is", "has", "can"):
        ws = ws[1:]
    if len(ws) > 1 and ws[-1] in _UNITS:
        return f"{' '.join(ws[:-1])} in {_UNITS[ws[-1]]}"
    if len(ws) > 1 and ws[-1] in ("at", "on"):
        event, what = ws[:-1], "time" if ws[-1] == "at" else "date"
        if len(event) == 1 and event[0] in EVENT_NOUNS:
            return f"{EVENT_NOUNS[event[0]]} {what}"
        if len(event) == 1 and participle(event[0]):
            return f"{what} {event[0]}"
        return f"{' '.join(event)} {what}"
    if ws in (["timestamp"], ["ts"]):
        return "time"
    return " ".join(ws)


def event_word(column: str) -> str | None:
    """The one word before "at" or "on" in a time column's name.

    >>> event_word("closed_at"), event_word("startsOn"), event_word("last_login_at")
    ('closed', 'starts', None)
    """
    ws = words(column)
    return ws[0] if len(ws) == 2 and ws[1] in ("at", "on") else None


def participle(word: str) -> bool:
    """Whether a word reads as a past participle: "created", "paid"."""
    return word.endswith(("ed", "en")) or word in ("paid", "sent", "built", "sold", "read")


def plural(noun: str) -> str:
    """The plural of a noun phrase (its last word); a plural stays as it is.

    >>> [plural(n) for n in ("user", "entry", "status", "box", "day", "orders",
    ...                      "behavior log entry", "person")]
    ['users', 'entries', 'statuses', 'boxes', 'days', 'orders', 'behavior log entries', 'people']
    """
    head, sep, last = noun.rpartition(" ")
    low = last.lower()
    if low in _IRREGULAR:
        new = _IRREGULAR[low]
    elif low in _SINGULAR_OF or not low.isalpha():
        new = last
    elif low.endswith("s") and not low.endswith(("ss", "us", "is")):
        new = last  # already plural: "orders"
    elif re.search(r"[^aeiou]y$", low):
        new = last[:-1] + "ies"
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        new = last + "es"
    else:
        new = last + "s"
    return head + sep + new


def singular(noun: str) -> str:
    """The singular of a noun phrase (its last word); a singular stays as it is.

    >>> [singular(n) for n in ("users", "categories", "statuses", "boxes", "status",
    ...                        "order items", "people", "address")]
    ['user', 'category', 'status', 'box', 'status', 'order item', 'person', 'address']
    """
    head, sep, last = noun.rpartition(" ")
    low = last.lower()
    if low in _SINGULAR_OF:
        new = _SINGULAR_OF[low]
    elif low in _IRREGULAR:
        new = last
    elif low.endswith("ies") and len(low) > 4:
        new = last[:-3] + "y"
    elif low.endswith(("sses", "xes", "zes", "ches", "shes")):
        new = last[:-2]
    elif low.endswith(("ss", "us", "is")) or not low.endswith("s"):
        new = last
    else:
        new = last[:-1]
    return head + sep + new


def article(noun: str) -> str:
    """The noun with "a" or "an" in front, by how it sounds.

    >>> article("order"), article("user"), article("enrollment"), article("hour")
    ('an order', 'a user', 'an enrollment', 'an hour')
    """
    low = noun.lower()
    vowel = low[:1] in ("a", "e", "i", "o", "u") and not low.startswith(
        ("eu", "uni", "use", "usa", "one", "uti"))
    return f"{'an' if vowel or low.startswith(('hour', 'honest')) else 'a'} {noun}"


def join_words(items: Sequence[str], conjunction: str = "and") -> str:
    """A list in words.

    >>> join_words(["a"]), join_words(["a", "b"]), join_words(["a", "b", "c"], "or")
    ('a', 'a and b', 'a, b or c')
    """
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def row_noun(table: str, comment: str | None = None) -> str:
    """What one row of a table is called: its comment's noun, else its name in words.

    >>> row_noun("BehaviorLog"), row_noun("order_items"), row_noun("t", "Support tickets.")
    ('behavior log entry', 'order item', 'support ticket')
    """
    noun = comment_noun(comment)
    if noun is not None:
        return singular(noun)
    noun = singular(humanise(table))
    return f"{noun} entry" if noun.rpartition(" ")[2] in _LOG_WORDS else noun


def comment_noun(comment: str | None) -> str | None:
    """The noun a comment names a table's rows (or a column) by, when it is one.

    Its first clause, without "One row per", if that is one to three words with
    no verbs or prepositions in them; otherwise None (the comment still says what
    the table holds, but is no noun to build a sentence on).

    >>> comment_noun("One row per support ticket."), comment_noun("Amount paid, in cents")
    ('support ticket', 'amount paid')
    >>> comment_noun("Events a user triggers in the app") is None
    True
    """
    if not comment:
        return None
    first = re.split(r"[.;:,(\n]| - | — ", comment.strip(), maxsplit=1)[0].strip()
    low = first.lower()
    for prefix in _COMMENT_PREFIXES:
        if low.startswith(prefix):
            first = first[len(prefix):]
            break
    ws = first.split()
    if not 1 <= len(ws) <= 3 or any(not re.fullmatch(r"[^\W\d_]+(-[^\W\d_]+)*", w)
                                    or w.lower() in _STOP_WORDS for w in ws):
        return None
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in ws)


def sentence(text: str) -> str:
    """A phrase as a sentence: capitalised, with a full stop.

    >>> sentence("lists users"), sentence("Reads all of t.")
    ('Lists users.', 'Reads all of t.')
    """
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def comma(text: str) -> str:
    """A phrase after a comma, or nothing: ``", newest first"``."""
    return f", {text}" if text else ""
