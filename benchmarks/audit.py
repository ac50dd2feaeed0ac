"""The audit of 100 slow statements with HypoPG: the seven steps, under 60 s.

Usage:
    python benchmarks/audit.py                    # 100 statements, runs 3, a fresh server
    python benchmarks/audit.py --statements 200   # scale the workload (variants are generated)
    python benchmarks/audit.py --scale 0.5        # half the rows
    python benchmarks/audit.py --budget 1GB       # room for every index the workload wants
    python benchmarks/audit.py --keep-server      # leave the loaded server for a later run
    python benchmarks/audit.py --profile audit.prof   # cProfile of the audit alone

Starts Debian's PostgreSQL 15 (HypoPG, pg_stat_statements preloaded) in --server-dir
and creates the database ``logistics``: a parcel shop's schema of 10 tables
(customers, products, orders, order lines, shipments, tracking events, stock
levels, returns, warehouses, carriers) with 3.3 million rows made by
``generate_series`` (random values from a fixed seed), primary keys, three obvious
indexes and foreign keys but none of the indexes the workload needs, then VACUUM
ANALYZE. In a new session the statistics are reset (the load is not the
application's work) and the workload runs: --statements distinct statements
(reads of one table and joins, filters by equality, range, IN lists and
expressions, sorts with LIMIT, OFFSET paging, aggregates, a few writes that touch
no row), each --calls times with different parameters, so that
pg_stat_statements holds that many entries.

Then ``pgarchitect.audit.run`` audits the database as a first audit would: the
knowledge base is on and empty (the server has no pgvector: embeddings are ranked
in numpy), HypoPG is the what-if engine, no language model, every statement kept
(``Filters(min_mean_ms=0, min_calls=0, top=N)``), each proposal measured with
``runs`` EXPLAIN ANALYZE runs of each of its parameter sets (``measure_sets``, 3)
before and after (plus one warm-up run of each set on each side),
inside rolled-back transactions, within the audit's default budget (a quarter of
the database's size) unless --budget says otherwise. The embedding model is loaded (and timed) just
before the audit, as a first audit in a fresh process loads it. Printed: the
machine, the data, the seconds of each step and the total against the target.
A loaded database kept by --keep-server is reused by the next run (its knowledge
base and audit records are dropped first, so every run is a first audit).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from _common import cpu, machine, pg15_server
from psycopg import sql
from psycopg.types.numeric import Int8Dumper

from pgarchitect import audit
from pgarchitect.analysis import fingerprint
from pgarchitect.knowledge.embed import default_embedder
from pgarchitect.settings import load_config
from pgarchitect.workload import Filters
from pgarchitect.workload.collect import Request

Conn = psycopg.Connection[tuple[Any, ...]]

DEFAULT_SERVER_DIR = Path("/tmp/pgarchitect-audit-bench/server")
DATABASE = "logistics"
TARGET_S = 60.0
SEED = 42

# A throwaway server: the load skips WAL (tables created in the loading transaction,
# wal_level minimal); the data (about 500 MB with indexes) fits in shared_buffers.
# Durability and the planner's settings stay PostgreSQL's defaults.
SERVER_SETTINGS = {
    "shared_buffers": "'1GB'",
    "maintenance_work_mem": "'256MB'",
    "max_wal_size": "'4GB'",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}

# -- the schema and its data -----------------------------------------------------------

CITIES = ("Lyon", "Hamburg", "Milan", "Porto", "Gdansk", "Leeds", "Ghent", "Brno", "Malmo",
          "Turku", "Graz", "Cork", "Split", "Tartu", "Riga", "Basel", "Bilbao", "Aarhus",
          "Lille", "Utrecht")
REGIONS = ("north", "south", "east", "west", "central")
DOMAINS = ("example.com", "example.org", "mail.test", "shop.test")
COUNTRIES = ("DE", "FR", "IT", "ES", "NL", "PL", "SE", "BE", "AT", "PT", "IE", "DK")
SEGMENTS = (("consumer", 0.8), ("business", 0.18), ("enterprise", 0.02))
CHANNELS = ("web", "app", "marketplace", "phone")
ORDER_STATUSES = (("delivered", 0.80), ("shipped", 0.08), ("pending", 0.05),
                  ("cancelled", 0.04), ("returned", 0.03))
SHIPMENT_STATUSES = (("delivered", 0.85), ("in_transit", 0.09), ("label_created", 0.04),
                     ("exception", 0.02))
SERVICE_LEVELS = ("economy", "standard", "express", "freight")
EVENT_KINDS = (("in_transit", 0.45), ("picked_up", 0.2), ("out_for_delivery", 0.15),
               ("delivered", 0.17), ("exception", 0.03))
RETURN_REASONS = ("damaged", "wrong_item", "too_late", "not_as_described", "no_longer_needed",
                  "other")
RETURN_STATUSES = (("requested", 0.2), ("approved", 0.3), ("refunded", 0.4), ("rejected", 0.1))
NOTES = ("customer not at home", "damaged parcel", "address unknown", "held at customs")
HUBS = 60
WAREHOUSES = 40
CARRIERS = 25
CATEGORIES = 30


@dataclass(frozen=True)
class Sizes:
    """Rows per table at a scale (1.0: 3.3 million rows)."""

    customers: int
    products: int
    orders: int
    shipments: int
    events: int
    stock_per_warehouse: int
    returns: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(base: int) -> int:
            return max(100, round(base * scale))
        return cls(n(100_000), n(50_000), n(500_000), n(450_000), n(1_000_000),
                   min(n(5_000), n(50_000)), n(30_000))

    @property
    def order_lines(self) -> int:
        return 2 * self.orders

    def params(self) -> dict[str, Any]:
        return {"customers": self.customers, "products": self.products, "orders": self.orders,
                "lines": self.order_lines, "shipments": self.shipments, "events": self.events,
                "stock": self.stock_per_warehouse, "returns": self.returns,
                "seed": SEED / 100, "cities": list(CITIES), "regions": list(REGIONS),
                "domains": list(DOMAINS), "countries": list(COUNTRIES),
                "channels": list(CHANNELS), "levels": list(SERVICE_LEVELS),
                "reasons": list(RETURN_REASONS), "notes": list(NOTES)}


DDL = (
    """CREATE TABLE warehouses (
        id int PRIMARY KEY, code text NOT NULL, city text NOT NULL, region text NOT NULL,
        opened_on date NOT NULL)""",
    """CREATE TABLE carriers (
        id int PRIMARY KEY, name text NOT NULL, service_level text NOT NULL,
        active boolean NOT NULL)""",
    """CREATE TABLE customers (
        id int PRIMARY KEY, email text NOT NULL, name text NOT NULL, country char(2) NOT NULL,
        segment text NOT NULL, created_at timestamptz NOT NULL, is_active boolean NOT NULL)""",
    """CREATE TABLE products (
        id int PRIMARY KEY, sku text NOT NULL, name text NOT NULL, category text NOT NULL,
        weight_g int NOT NULL, price_cents int NOT NULL, discontinued boolean NOT NULL)""",
    """CREATE TABLE orders (
        id bigint PRIMARY KEY, customer_id int NOT NULL, warehouse_id int NOT NULL,
        status text NOT NULL, channel text NOT NULL, placed_at timestamptz NOT NULL,
        total_cents int NOT NULL, promo_code text)""",
    """CREATE TABLE order_lines (
        order_id bigint NOT NULL, line_no int NOT NULL, product_id int NOT NULL,
        quantity int NOT NULL, unit_price_cents int NOT NULL, PRIMARY KEY (order_id, line_no))""",
    """CREATE TABLE shipments (
        id bigint PRIMARY KEY, order_id bigint NOT NULL, carrier_id int NOT NULL,
        warehouse_id int NOT NULL, tracking_code text NOT NULL, status text NOT NULL,
        shipped_at timestamptz NOT NULL, delivered_at timestamptz, dest_postcode text NOT NULL,
        weight_g int NOT NULL)""",
    """CREATE TABLE tracking_events (
        id bigint PRIMARY KEY, shipment_id bigint NOT NULL, kind text NOT NULL,
        happened_at timestamptz NOT NULL, location text NOT NULL, note text)""",
    """CREATE TABLE stock_levels (
        warehouse_id int NOT NULL, product_id int NOT NULL, on_hand int NOT NULL,
        reserved int NOT NULL, updated_at timestamptz NOT NULL,
        PRIMARY KEY (warehouse_id, product_id))""",
    """CREATE TABLE returns (
        id int PRIMARY KEY, order_id bigint NOT NULL, product_id int NOT NULL,
        reason text NOT NULL, status text NOT NULL, requested_at timestamptz NOT NULL,
        refund_cents int)""",
)
TABLES = ("warehouses", "carriers", "customers", "products", "orders", "order_lines",
          "shipments", "tracking_events", "stock_levels", "returns")

# Each INSERT draws its random numbers in a subquery (r1, r2, ...) so that a CASE can
# test one draw several times. Skews: low customer and product ids buy more, recent
# dates are denser (random()^1.5 of the span).
LOAD = (
    "SELECT setseed(%(seed)s)",
    """INSERT INTO warehouses
       SELECT g, 'WH' || lpad(g::text, 3, '0'), (%(cities)s::text[])[1 + g %% 20],
              (%(regions)s::text[])[1 + g %% 5], date '2012-01-01' + g * 61
       FROM generate_series(1, 40) g""",
    """INSERT INTO carriers
       SELECT g, 'Carrier ' || g, (%(levels)s::text[])[1 + g %% 4], g %% 6 <> 0
       FROM generate_series(1, 25) g""",
    """INSERT INTO customers
       SELECT g, 'user' || g || '@' || (%(domains)s::text[])[1 + g %% 4],
              'Customer ' || g, (%(countries)s::text[])[1 + floor(12 * r1 ^ 2)::int],
              CASE WHEN r2 < 0.8 THEN 'consumer' WHEN r2 < 0.98 THEN 'business'
                   ELSE 'enterprise' END,
              now() - r3 * interval '1000 days', r4 > 0.07
       FROM (SELECT g, random() r1, random() r2, random() r3, random() r4
             FROM generate_series(1, %(customers)s::int) g) s""",
    """INSERT INTO products
       SELECT g, 'SKU-' || lpad(g::text, 6, '0'), 'Product ' || g,
              'category-' || lpad((1 + floor(30 * r1 ^ 1.5))::int::text, 2, '0'),
              (50 + r2 * 20000)::int, (99 + r3 * 50000)::int, r4 < 0.05
       FROM (SELECT g, random() r1, random() r2, random() r3, random() r4
             FROM generate_series(1, %(products)s::int) g) s""",
    """INSERT INTO orders
       SELECT g, 1 + floor(%(customers)s::int * r1 ^ 1.3)::int, 1 + floor(40 * r2)::int,
              CASE WHEN r3 < 0.80 THEN 'delivered' WHEN r3 < 0.88 THEN 'shipped'
                   WHEN r3 < 0.93 THEN 'pending' WHEN r3 < 0.97 THEN 'cancelled'
                   ELSE 'returned' END,
              (%(channels)s::text[])[1 + floor(4 * r4 ^ 1.5)::int],
              now() - r5 ^ 1.5 * interval '730 days', (500 + r6 * 40000)::int,
              CASE WHEN r7 < 0.1 THEN 'PROMO' || lpad(floor(r7 * 600)::int::text, 2, '0') END
       FROM (SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5,
                    random() r6, random() r7
             FROM generate_series(1, %(orders)s::int) g) s""",
    """INSERT INTO order_lines
       SELECT 1 + (g - 1) / 2, 1 + (g - 1) %% 2, 1 + floor(%(products)s::int * r1 ^ 2)::int,
              1 + floor(10 * r2 ^ 3)::int, (99 + r3 * 50000)::int
       FROM (SELECT g, random() r1, random() r2, random() r3
             FROM generate_series(1, %(lines)s::int) g) s""",
    """INSERT INTO shipments
       SELECT g, 1 + ((g - 1)::bigint * %(orders)s::int) / %(shipments)s::int,
              1 + floor(25 * r1 ^ 1.2)::int, 1 + floor(40 * r2)::int,
              upper(substr(md5(g::text), 1, 16)),
              CASE WHEN r3 < 0.85 THEN 'delivered' WHEN r3 < 0.94 THEN 'in_transit'
                   WHEN r3 < 0.98 THEN 'label_created' ELSE 'exception' END,
              shipped, CASE WHEN r3 < 0.85 THEN shipped + (1 + r4 * 6) * interval '1 day' END,
              lpad(floor(r5 * 100000)::int::text, 5, '0'), (50 + r6 * 30000)::int
       FROM (SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5,
                    random() r6, now() - random() ^ 1.5 * interval '720 days' shipped
             FROM generate_series(1, %(shipments)s::int) g) s""",
    """INSERT INTO tracking_events
       SELECT g, 1 + floor(%(shipments)s::int * r1)::int,
              CASE WHEN r2 < 0.45 THEN 'in_transit' WHEN r2 < 0.65 THEN 'picked_up'
                   WHEN r2 < 0.80 THEN 'out_for_delivery' WHEN r2 < 0.97 THEN 'delivered'
                   ELSE 'exception' END,
              now() - r3 ^ 1.5 * interval '720 days',
              'hub-' || lpad((1 + floor(60 * r4 ^ 2))::int::text, 2, '0'),
              CASE WHEN r5 < 0.02 THEN (%(notes)s::text[])[1 + floor(r5 * 200)::int] END
       FROM (SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5
             FROM generate_series(1, %(events)s::int) g) s""",
    """INSERT INTO stock_levels
       SELECT w, 1 + ((w - 1) * 1237 + p) %% %(products)s::int, floor(r1 * 500)::int,
              floor(r2 * 30)::int, now() - r3 * interval '90 days'
       FROM (SELECT w, p, random() r1, random() r2, random() r3
             FROM generate_series(1, 40) w, generate_series(1, %(stock)s::int) p) s""",
    """INSERT INTO returns
       SELECT g, 1 + floor(%(orders)s::int * r1)::int, 1 + floor(%(products)s::int * r2)::int,
              (%(reasons)s::text[])[1 + floor(6 * r3)::int],
              CASE WHEN r4 < 0.2 THEN 'requested' WHEN r4 < 0.5 THEN 'approved'
                   WHEN r4 < 0.9 THEN 'refunded' ELSE 'rejected' END,
              now() - r5 * interval '365 days',
              CASE WHEN r4 >= 0.5 AND r4 < 0.9 THEN (100 + r6 * 20000)::int END
       FROM (SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5,
                    random() r6
             FROM generate_series(1, %(returns)s::int) g) s""",
)

# The indexes a hurried team would have made: the primary keys above, and these.
INDEXES = (
    "CREATE UNIQUE INDEX customers_email_key ON customers (email)",
    "CREATE UNIQUE INDEX shipments_tracking_code_key ON shipments (tracking_code)",
    "CREATE INDEX orders_customer_id_idx ON orders (customer_id)",
)
FOREIGN_KEYS = (
    ("orders", "customer_id", "customers"), ("orders", "warehouse_id", "warehouses"),
    ("order_lines", "order_id", "orders"), ("order_lines", "product_id", "products"),
    ("shipments", "order_id", "orders"), ("shipments", "carrier_id", "carriers"),
    ("tracking_events", "shipment_id", "shipments"), ("returns", "order_id", "orders"),
    ("stock_levels", "product_id", "products"),
)


@dataclass
class Loaded:
    rows: dict[str, int]
    table_bytes: int
    index_bytes: int
    load_s: float | None  # None: reused


def load(conn: Conn, sizes: Sizes) -> float:
    """Create and fill the schema in one transaction, then VACUUM ANALYZE; seconds."""
    started = time.perf_counter()
    params = sizes.params()
    with conn.transaction():
        for stmt in DDL:
            conn.execute(stmt)
        for stmt in LOAD:
            names = [n for n in params if f"%({n})s" in stmt]
            conn.execute(stmt, {n: params[n] for n in names})
        for stmt in INDEXES:
            conn.execute(stmt)
        for table, column, parent in FOREIGN_KEYS:
            conn.execute(sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {}").format(
                sql.Identifier(table), sql.Identifier(column), sql.Identifier(parent)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(DATABASE), sql.Literal(repr(sizes))))
    conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def loaded_sizes(conn: Conn) -> str | None:
    row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = current_database()").fetchone()
    return str(row[0]) if row and row[0] else None


def describe(conn: Conn, load_s: float | None) -> Loaded:
    rows = {}
    for table in TABLES:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                           ).fetchone()
        rows[table] = int(row[0]) if row else 0
    sizes = conn.execute(
        "SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)) FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'").fetchone()
    assert sizes is not None
    return Loaded(rows, int(sizes[0]), int(sizes[1]), load_s)


# -- the workload ------------------------------------------------------------------------

def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


class Values:
    """Parameter values the application would send, drawn like the data was."""

    def __init__(self, sizes: Sizes, seed: int = SEED) -> None:
        self.sizes = sizes
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)

    def customer(self) -> int:
        return 1 + int(self.sizes.customers * self.rng.random() ** 1.3)

    def customers(self, k: int = 5) -> list[int]:
        return [self.customer() for _ in range(k)]

    def email(self) -> str:
        i = self.customer()
        return f"user{i}@{DOMAINS[i % 4]}"

    def country(self) -> str:
        return COUNTRIES[int(12 * self.rng.random() ** 2)]

    def segment(self) -> str:
        return _weighted(self.rng, SEGMENTS)

    def product(self) -> int:
        return 1 + int(self.sizes.products * self.rng.random() ** 2)

    def products(self, k: int = 5) -> list[int]:
        return [self.product() for _ in range(k)]

    def sku(self) -> str:
        return f"SKU-{self.product():06d}"

    def category(self) -> str:
        return f"category-{1 + int(30 * self.rng.random() ** 1.5):02d}"

    def order(self) -> int:
        return self.rng.randint(1, self.sizes.orders)

    def orders(self, k: int = 5) -> list[int]:
        return [self.order() for _ in range(k)]

    def order_status(self) -> str:
        return _weighted(self.rng, ORDER_STATUSES)

    def rare_order_status(self) -> str:
        return self.rng.choice(("pending", "cancelled", "returned"))

    def channel(self) -> str:
        return self.rng.choice(CHANNELS)

    def shipment(self) -> int:
        return self.rng.randint(1, self.sizes.shipments)

    def shipments(self, k: int = 5) -> list[int]:
        return [self.shipment() for _ in range(k)]

    def shipment_status(self) -> str:
        return _weighted(self.rng, SHIPMENT_STATUSES)

    def tracking_code(self) -> str:
        return hashlib.md5(str(self.shipment()).encode()).hexdigest()[:16].upper()

    def postcode(self) -> str:
        return f"{self.rng.randrange(100_000):05d}"

    def warehouse(self) -> int:
        return self.rng.randint(1, WAREHOUSES)

    def carrier(self) -> int:
        return 1 + int(CARRIERS * self.rng.random() ** 1.2)

    def level(self) -> str:
        return self.rng.choice(SERVICE_LEVELS)

    def region(self) -> str:
        return self.rng.choice(REGIONS)

    def hub(self) -> str:
        return f"hub-{1 + int(HUBS * self.rng.random() ** 2):02d}"

    def event_kind(self) -> str:
        return _weighted(self.rng, EVENT_KINDS)

    def return_status(self) -> str:
        return _weighted(self.rng, RETURN_STATUSES)

    def days(self, around: float) -> timedelta:
        """An interval of about ``around`` days (the application's "last week")."""
        return timedelta(days=around * self.rng.uniform(0.8, 1.2))

    def ago(self, around: float) -> datetime:
        """A moment about ``around`` days ago."""
        return self.now - self.days(around)

    def long_ago(self) -> datetime:
        """Before any row: the nightly clean-up that finds nothing."""
        return self.now - timedelta(days=3000 + self.rng.randrange(100))

    def limit(self, *choices: int) -> int:
        return self.rng.choice(choices or (10, 20, 50))

    def between(self, low: int, high: int, width: int) -> tuple[int, int]:
        start = self.rng.randint(low, high - width)
        return start, start + width

    def like(self, words: Sequence[str]) -> str:
        return f"%{self.rng.choice(words)}%"


Params = Callable[[Values], Sequence[Any]]


@dataclass(frozen=True)
class Query:
    """One statement of the application, and how it draws its parameters."""

    sql: str
    params: Params = lambda v: ()

    @property
    def text(self) -> str:
        """The statement as pg_stat_statements shows it ($n placeholders)."""
        parts = self.sql.split("%s")
        return "".join(p + (f"${i}" if i < len(parts) else "")
                       for i, p in enumerate(parts, 1))


# 100 statements as the application sends them, grouped by the table they read first.
STATEMENTS: tuple[Query, ...] = (
    # customers
    Query("SELECT id, name, email FROM customers WHERE lower(email) = lower(%s)",
          lambda v: [v.email().upper()]),
    Query("SELECT * FROM customers WHERE country = %s AND segment = %s "
          "ORDER BY created_at DESC LIMIT %s", lambda v: [v.country(), v.segment(), v.limit()]),
    Query("SELECT count(*) FROM customers WHERE created_at >= now() - %s::interval",
          lambda v: [v.days(7)]),
    Query("SELECT id, email FROM customers WHERE name ILIKE %s LIMIT 20",
          lambda v: [v.like(["1234", "999", "4242"])]),
    Query("SELECT segment, count(*) FROM customers GROUP BY segment"),
    Query("SELECT id FROM customers WHERE NOT is_active AND created_at < %s ORDER BY id LIMIT %s",
          lambda v: [v.ago(300), v.limit()]),
    Query("SELECT * FROM customers WHERE email = %s", lambda v: [v.email()]),
    Query("SELECT id, email FROM customers WHERE country = %s ORDER BY id LIMIT %s OFFSET %s",
          lambda v: [v.country(), 20, v.rng.randrange(0, 5000, 20)]),
    Query("SELECT country, count(*) FROM customers WHERE segment = %s GROUP BY country",
          lambda v: [v.segment()]),
    Query("SELECT * FROM customers WHERE id = ANY(%s)", lambda v: [v.customers()]),
    Query("SELECT id FROM customers WHERE email LIKE %s", lambda v: [f"%@{v.rng.choice(DOMAINS)}"]),
    Query("SELECT c.id, c.email, count(o.id) FROM customers c JOIN orders o "
          "ON o.customer_id = c.id WHERE c.created_at >= %s GROUP BY c.id, c.email "
          "HAVING count(o.id) > %s", lambda v: [v.ago(10), 2]),
    Query("SELECT c.name FROM customers c WHERE NOT EXISTS "
          "(SELECT 1 FROM orders o WHERE o.customer_id = c.id) LIMIT %s",
          lambda v: [v.limit()]),
    # products
    Query("SELECT id, sku, name FROM products WHERE category = %s AND NOT discontinued "
          "ORDER BY price_cents LIMIT %s", lambda v: [v.category(), v.limit()]),
    Query("SELECT * FROM products WHERE sku = %s", lambda v: [v.sku()]),
    Query("SELECT category, avg(price_cents) FROM products GROUP BY category"),
    Query("SELECT id, name FROM products WHERE name LIKE %s ORDER BY name LIMIT 50",
          lambda v: [f"Product {v.rng.randint(100, 999)}%"]),
    Query("SELECT id FROM products WHERE weight_g BETWEEN %s AND %s",
          lambda v: v.between(50, 20000, 40)),
    Query("SELECT id, name FROM products WHERE price_cents BETWEEN %s AND %s AND category = %s",
          lambda v: [*v.between(100, 50000, 2000), v.category()]),
    Query("SELECT * FROM products WHERE discontinued AND id IN "
          "(SELECT product_id FROM stock_levels WHERE on_hand > %s)", lambda v: [490]),
    # orders
    Query("SELECT id, status, total_cents, placed_at FROM orders WHERE customer_id = %s "
          "ORDER BY placed_at DESC LIMIT 10", lambda v: [v.customer()]),
    Query("SELECT count(*) FROM orders WHERE status = %s", lambda v: [v.rare_order_status()]),
    Query("SELECT id, customer_id FROM orders WHERE status = 'pending' "
          "AND placed_at < now() - %s::interval", lambda v: [v.days(3)]),
    Query("SELECT date_trunc('day', placed_at) AS day, count(*), sum(total_cents) FROM orders "
          "WHERE placed_at >= %s GROUP BY 1 ORDER BY 1", lambda v: [v.ago(14)]),
    Query("SELECT * FROM orders WHERE promo_code = %s",
          lambda v: [f"PROMO{v.rng.randint(0, 59):02d}"]),
    Query("SELECT warehouse_id, count(*) FROM orders WHERE status = %s GROUP BY warehouse_id",
          lambda v: [v.rare_order_status()]),
    Query("SELECT id FROM orders WHERE warehouse_id = %s AND status = %s "
          "ORDER BY placed_at LIMIT %s", lambda v: [v.warehouse(), "pending", v.limit()]),
    Query("SELECT * FROM orders ORDER BY id DESC LIMIT %s OFFSET %s",
          lambda v: [50, v.rng.randrange(10_000, 100_000, 50)]),
    Query("SELECT channel, count(*), avg(total_cents) FROM orders "
          "WHERE placed_at BETWEEN %s AND %s GROUP BY channel",
          lambda v: [v.ago(30), v.ago(29)]),
    Query("SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
          "WHERE o.status = %s AND c.country = %s LIMIT 100",
          lambda v: [v.rare_order_status(), v.country()]),
    Query("SELECT max(total_cents) FROM orders WHERE customer_id = ANY(%s)",
          lambda v: [v.customers()]),
    Query("SELECT id, total_cents FROM orders WHERE total_cents > %s "
          "ORDER BY total_cents DESC LIMIT 20", lambda v: [v.rng.randint(40_000, 40_400)]),
    Query("SELECT id FROM orders WHERE customer_id = %s AND status = %s",
          lambda v: [v.customer(), v.order_status()]),
    Query("SELECT count(*) FROM orders WHERE channel = %s AND placed_at >= %s",
          lambda v: [v.channel(), v.ago(2)]),
    Query("SELECT * FROM orders WHERE id = %s", lambda v: [v.order()]),
    Query("SELECT customer_id, sum(total_cents) FROM orders WHERE placed_at >= %s "
          "GROUP BY customer_id ORDER BY 2 DESC LIMIT 10", lambda v: [v.ago(7)]),
    Query("SELECT o.id, o.total_cents FROM orders o WHERE o.placed_at >= %s "
          "AND o.total_cents > %s ORDER BY o.placed_at LIMIT %s",
          lambda v: [v.ago(3), 35_000, v.limit()]),
    Query("SELECT min(placed_at), max(placed_at) FROM orders WHERE warehouse_id = %s",
          lambda v: [v.warehouse()]),
    Query("SELECT w.city, count(*) FROM orders o JOIN warehouses w ON w.id = o.warehouse_id "
          "WHERE o.placed_at >= %s AND o.status = %s GROUP BY w.city",
          lambda v: [v.ago(7), v.order_status()]),
    Query("SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM returns r "
          "WHERE r.order_id = o.id AND r.status = %s) AND o.customer_id = %s",
          lambda v: [v.return_status(), v.customer()]),
    Query("SELECT o.id, o.placed_at, s.tracking_code, s.status FROM orders o "
          "JOIN shipments s ON s.order_id = o.id WHERE o.customer_id = %s "
          "ORDER BY o.placed_at DESC", lambda v: [v.customer()]),
    Query("UPDATE orders SET status = 'cancelled' WHERE status = 'pending' AND placed_at < %s",
          lambda v: [v.long_ago()]),
    Query("UPDATE orders SET status = %s WHERE id = %s AND status = 'pending'",
          lambda v: ["cancelled", -v.order()]),
    # order_lines
    Query("SELECT product_id, sum(quantity) FROM order_lines WHERE order_id = ANY(%s) "
          "GROUP BY product_id", lambda v: [v.orders()]),
    Query("SELECT order_id, quantity FROM order_lines WHERE product_id = %s",
          lambda v: [v.product()]),
    Query("SELECT count(DISTINCT order_id) FROM order_lines WHERE product_id = ANY(%s)",
          lambda v: [v.products()]),
    Query("SELECT p.category, sum(ol.quantity * ol.unit_price_cents) FROM order_lines ol "
          "JOIN products p ON p.id = ol.product_id GROUP BY p.category"),
    Query("SELECT ol.* FROM order_lines ol JOIN orders o ON o.id = ol.order_id "
          "WHERE o.customer_id = %s", lambda v: [v.customer()]),
    Query("SELECT product_id, count(*) FROM order_lines WHERE unit_price_cents > %s "
          "GROUP BY product_id ORDER BY 2 DESC LIMIT 20",
          lambda v: [v.rng.randint(49_000, 50_000)]),
    Query("SELECT order_id, sum(quantity * unit_price_cents) FROM order_lines "
          "WHERE order_id BETWEEN %s AND %s GROUP BY order_id",
          lambda v: v.between(1, v.sizes.orders, 100)),
    Query("SELECT count(*) FROM order_lines WHERE quantity >= %s", lambda v: [10]),
    Query("SELECT * FROM order_lines WHERE order_id = %s ORDER BY line_no",
          lambda v: [v.order()]),
    Query("SELECT product_id, max(unit_price_cents) - min(unit_price_cents) FROM order_lines "
          "WHERE product_id = ANY(%s) GROUP BY product_id", lambda v: [v.products(3)]),
    Query("SELECT p.sku, sum(ol.quantity) FROM order_lines ol "
          "JOIN products p ON p.id = ol.product_id JOIN orders o ON o.id = ol.order_id "
          "WHERE o.placed_at >= now() - %s::interval GROUP BY p.sku ORDER BY 2 DESC LIMIT 10",
          lambda v: [v.days(1)]),
    # shipments
    Query("SELECT * FROM shipments WHERE order_id = %s", lambda v: [v.order()]),
    Query("SELECT id, status FROM shipments WHERE tracking_code = %s",
          lambda v: [v.tracking_code()]),
    Query("SELECT carrier_id, count(*) FROM shipments WHERE status = 'exception' "
          "GROUP BY carrier_id"),
    Query("SELECT id, order_id FROM shipments WHERE status = %s "
          "AND shipped_at < now() - %s::interval ORDER BY shipped_at LIMIT 100",
          lambda v: ["label_created", v.days(5)]),
    Query("SELECT avg(delivered_at - shipped_at) FROM shipments WHERE carrier_id = %s "
          "AND delivered_at >= %s", lambda v: [v.carrier(), v.ago(30)]),
    Query("SELECT * FROM shipments WHERE dest_postcode = %s ORDER BY shipped_at DESC LIMIT 20",
          lambda v: [v.postcode()]),
    Query("SELECT s.id, c.name FROM shipments s JOIN carriers c ON c.id = s.carrier_id "
          "WHERE s.warehouse_id = %s AND s.status = %s",
          lambda v: [v.warehouse(), "exception"]),
    Query("SELECT count(*) FROM shipments WHERE delivered_at IS NULL AND shipped_at < %s",
          lambda v: [v.ago(20)]),
    Query("SELECT carrier_id, date_trunc('week', shipped_at), count(*) FROM shipments "
          "WHERE shipped_at >= %s GROUP BY 1, 2", lambda v: [v.ago(28)]),
    Query("SELECT s.id FROM shipments s LEFT JOIN tracking_events e ON e.shipment_id = s.id "
          "AND e.kind = 'delivered' WHERE s.status = 'delivered' AND e.id IS NULL LIMIT 100"),
    Query("SELECT status, count(*) FROM shipments WHERE warehouse_id = %s GROUP BY status",
          lambda v: [v.warehouse()]),
    Query("SELECT id, tracking_code FROM shipments WHERE carrier_id = %s AND status = %s "
          "ORDER BY id DESC LIMIT 25", lambda v: [v.carrier(), "in_transit"]),
    Query("SELECT * FROM shipments WHERE weight_g > %s AND carrier_id = %s",
          lambda v: [29_900, v.carrier()]),
    Query("SELECT dest_postcode, count(*) FROM shipments WHERE shipped_at BETWEEN %s AND %s "
          "GROUP BY dest_postcode ORDER BY 2 DESC LIMIT 10", lambda v: [v.ago(8), v.ago(7)]),
    Query("SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id "
          "JOIN shipments s ON s.order_id = o.id WHERE s.status = 'exception' "
          "AND c.segment = %s", lambda v: ["enterprise"]),
    Query("SELECT count(*) FROM carriers c WHERE EXISTS (SELECT 1 FROM shipments s "
          "WHERE s.carrier_id = c.id AND s.status = %s)", lambda v: ["exception"]),
    Query("UPDATE shipments SET status = 'lost' WHERE status = 'in_transit' AND shipped_at < %s",
          lambda v: [v.long_ago()]),
    # tracking_events
    Query("SELECT kind, happened_at, location FROM tracking_events WHERE shipment_id = %s "
          "ORDER BY happened_at", lambda v: [v.shipment()]),
    Query("SELECT * FROM tracking_events WHERE shipment_id = %s ORDER BY happened_at DESC "
          "LIMIT 1", lambda v: [v.shipment()]),
    Query("SELECT count(*) FROM tracking_events WHERE kind = 'exception' "
          "AND happened_at >= now() - %s::interval", lambda v: [v.days(1)]),
    Query("SELECT location, count(*) FROM tracking_events WHERE happened_at >= %s "
          "GROUP BY location ORDER BY 2 DESC LIMIT 10", lambda v: [v.ago(1)]),
    Query("SELECT shipment_id FROM tracking_events WHERE note ILIKE %s",
          lambda v: [v.like(["damaged", "customs", "not at home"])]),
    Query("SELECT s.tracking_code, e.kind, e.happened_at FROM shipments s "
          "JOIN tracking_events e ON e.shipment_id = s.id WHERE s.order_id = %s "
          "ORDER BY e.happened_at", lambda v: [v.order()]),
    Query("SELECT count(*) FROM tracking_events WHERE shipment_id = ANY(%s)",
          lambda v: [v.shipments()]),
    Query("SELECT kind, count(*) FROM tracking_events WHERE location = %s GROUP BY kind",
          lambda v: [v.hub()]),
    Query("SELECT * FROM tracking_events WHERE location = %s AND happened_at >= %s "
          "ORDER BY happened_at DESC LIMIT 50", lambda v: [v.hub(), v.ago(2)]),
    Query("SELECT date_trunc('hour', happened_at), count(*) FROM tracking_events "
          "WHERE kind = %s AND happened_at >= now() - %s::interval GROUP BY 1",
          lambda v: [v.event_kind(), v.days(1)]),
    Query("DELETE FROM tracking_events WHERE happened_at < %s", lambda v: [v.long_ago()]),
    # stock_levels
    Query("SELECT on_hand - reserved FROM stock_levels WHERE warehouse_id = %s "
          "AND product_id = %s", lambda v: [v.warehouse(), v.product()]),
    Query("SELECT warehouse_id, on_hand FROM stock_levels WHERE product_id = %s",
          lambda v: [v.product()]),
    Query("SELECT product_id FROM stock_levels WHERE warehouse_id = %s AND on_hand < reserved",
          lambda v: [v.warehouse()]),
    Query("SELECT count(*) FROM stock_levels WHERE updated_at < now() - %s::interval",
          lambda v: [v.days(85)]),
    Query("SELECT sl.product_id, p.name, sl.on_hand FROM stock_levels sl "
          "JOIN products p ON p.id = sl.product_id WHERE sl.warehouse_id = %s "
          "AND sl.on_hand < %s ORDER BY sl.on_hand LIMIT 50", lambda v: [v.warehouse(), 5]),
    Query("SELECT warehouse_id, sum(on_hand) FROM stock_levels GROUP BY warehouse_id"),
    Query("SELECT w.code, sl.on_hand FROM stock_levels sl JOIN warehouses w "
          "ON w.id = sl.warehouse_id WHERE sl.product_id = %s ORDER BY sl.on_hand DESC",
          lambda v: [v.product()]),
    Query("UPDATE stock_levels SET reserved = reserved + %s WHERE warehouse_id = %s "
          "AND product_id = %s", lambda v: [0, v.warehouse(), v.product()]),
    # returns
    Query("SELECT * FROM returns WHERE order_id = %s", lambda v: [v.order()]),
    Query("SELECT reason, count(*) FROM returns WHERE requested_at >= %s GROUP BY reason",
          lambda v: [v.ago(30)]),
    Query("SELECT r.id, o.customer_id FROM returns r JOIN orders o ON o.id = r.order_id "
          "WHERE r.status = %s ORDER BY r.requested_at LIMIT 50",
          lambda v: [v.return_status()]),
    Query("SELECT * FROM returns WHERE status = %s ORDER BY requested_at LIMIT %s",
          lambda v: ["requested", v.limit()]),
    Query("SELECT r.reason, p.category, count(*) FROM returns r "
          "JOIN products p ON p.id = r.product_id GROUP BY 1, 2"),
    Query("SELECT sum(refund_cents) FROM returns WHERE requested_at >= %s "
          "AND status = 'refunded'", lambda v: [v.ago(7)]),
    Query("SELECT * FROM returns WHERE product_id = %s", lambda v: [v.product()]),
    Query("DELETE FROM returns WHERE status = 'rejected' AND requested_at < %s",
          lambda v: [v.long_ago()]),
    # warehouses and carriers (small tables)
    Query("SELECT * FROM warehouses WHERE region = %s ORDER BY code", lambda v: [v.region()]),
    Query("SELECT id, name FROM carriers WHERE active AND service_level = %s",
          lambda v: [v.level()]),
)

# For --statements above len(STATEMENTS): generated variants, one table's filter,
# sort and projection at a time (the shapes an ORM's list views make).
VARIANT_COLUMNS: dict[str, dict[str, Callable[[Values], Any]]] = {
    "orders": {"customer_id": Values.customer, "warehouse_id": Values.warehouse,
               "status": Values.rare_order_status, "channel": Values.channel,
               "placed_at": lambda v: v.ago(5), "total_cents": lambda v: 40_000},
    "shipments": {"order_id": Values.order, "carrier_id": Values.carrier,
                  "warehouse_id": Values.warehouse, "status": lambda v: "exception",
                  "shipped_at": lambda v: v.ago(3), "dest_postcode": Values.postcode},
    "tracking_events": {"shipment_id": Values.shipment, "kind": lambda v: "exception",
                        "location": Values.hub, "happened_at": lambda v: v.ago(1)},
    "order_lines": {"order_id": Values.order, "product_id": Values.product,
                    "quantity": lambda v: 10, "unit_price_cents": lambda v: 49_900},
    "customers": {"country": Values.country, "segment": lambda v: "enterprise",
                  "created_at": lambda v: v.ago(5), "name": lambda v: "Customer 77"},
    "products": {"category": Values.category, "weight_g": lambda v: 19_950,
                 "price_cents": lambda v: 49_900, "name": lambda v: "Product 4242"},
}
RANGE_COLUMNS = frozenset({"placed_at", "total_cents", "shipped_at", "happened_at", "quantity",
                           "unit_price_cents", "created_at", "weight_g", "price_cents"})


def _variant(rng: random.Random) -> Query:
    table = rng.choice(sorted(VARIANT_COLUMNS))
    columns = VARIANT_COLUMNS[table]
    names = sorted(columns)
    first, second = rng.sample(names, 2)
    picked = rng.sample(names, rng.randint(1, 3))
    where = [f"{first} {'>=' if first in RANGE_COLUMNS else '='} %s"]
    fns = [columns[first]]
    if rng.random() < 0.5:
        where.append(f"{second} {'>=' if second in RANGE_COLUMNS else '='} %s")
        fns.append(columns[second])
    text = f"SELECT {', '.join(picked)} FROM {table} WHERE {' AND '.join(where)}"
    if rng.random() < 0.6:
        sort = rng.choice(names)
        text += f" ORDER BY {sort}{rng.choice(['', ' DESC'])} LIMIT %s"
        fns.append(lambda v: v.limit())
    draws = tuple(fns)

    def params(v: Values) -> list[Any]:
        return [f(v) for f in draws]
    return Query(text, params)


def workload(n: int) -> list[Query]:
    """``n`` statements with distinct fingerprints: the hand-written ones, spread evenly
    when fewer are asked for, then generated variants."""
    if n <= len(STATEMENTS):
        step = len(STATEMENTS) / n
        return [STATEMENTS[int(i * step)] for i in range(n)]
    out = list(STATEMENTS)
    seen = {fingerprint(q.text) for q in out}
    rng = random.Random(SEED)
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n:
            raise SystemExit(f"--statements {n}: only {len(out)} distinct statements found")
        q = _variant(rng)
        fp = fingerprint(q.text)
        if fp not in seen:
            seen.add(fp)
            out.append(q)
    return out


def play(conninfo: str, queries: Sequence[Query], sizes: Sizes, calls: int) -> float:
    """Reset the statistics (a new session: the load's counters are flushed), then run each
    statement ``calls`` times with its parameters; seconds."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_reset()")
        conn.execute("SELECT pg_stat_statements_reset()")
    values = Values(sizes)
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Every integer as bigint: one type per parameter, so one entry per statement.
        conn.adapters.register_dumper(int, Int8Dumper)
        for _ in range(calls):
            for q in queries:
                conn.execute(q.sql.encode(), q.params(values) or None)
    return time.perf_counter() - started


def statement_entries(conn: Conn) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE d.datname = current_database() AND s.query NOT LIKE '%%pg_stat%%'").fetchone()
    return int(row[0]) if row else 0


# -- the server ----------------------------------------------------------------------------

def prepare(conn: Conn, sizes: Sizes, reload: bool) -> Loaded:
    """The extensions, the data (loaded, or reused when it has the same sizes), and no
    audit records or findings of an earlier run."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    conn.execute("DROP SCHEMA IF EXISTS pgarchitect CASCADE")
    load_s = None
    if reload or loaded_sizes(conn) != repr(sizes):
        for table in TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                sql.Identifier(table)))
        print(f"loading {sizes} ...", file=sys.stderr)
        load_s = load(conn, sizes)
    return describe(conn, load_s)


# -- the audit -------------------------------------------------------------------------------

@dataclass
class Timed:
    result: audit.AuditResult
    model_s: float
    audit_s: float


def run_audit(conninfo: str, n: int, runs: int, budget: str | None, data_dir: Path,
              profile: Path | None) -> Timed:
    """Load the embedding model, then audit; both timed."""
    config = load_config(overrides={"data_dir": str(data_dir)}, environ={}, cwd=data_dir)
    started = time.perf_counter()
    default_embedder()
    model_s = time.perf_counter() - started
    request = audit.AuditRequest(
        workload=Request(dsn=conninfo, filters=Filters(min_mean_ms=0, min_calls=0, top=n)),
        runs=runs, whatif="hypopg", budget=budget, knowledge=True, resume=False)
    last: dict[str, float] = {}

    def progress(step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last.get(step, 0.0) > 5:
            last[step] = now
            print(f"  {step} {done}/{total} ({now - started:.0f} s)", file=sys.stderr)

    print("auditing ...", file=sys.stderr)
    profiler = cProfile.Profile() if profile else None
    started_audit = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        result = audit.run(config, request, progress=progress)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
    return Timed(result, model_s, time.perf_counter() - started_audit)


# -- the report -------------------------------------------------------------------------------

def memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GB memory"
    except OSError:
        pass
    return "memory unknown"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(
            str(c).ljust(w) if i == 0 or i == len(cells) - 1 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"
    return [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(fmt(r) for r in rows)]


def report(info: list[str], data: Loaded, queries: int, entries: int, calls: int,
           play_s: float, runs: int, timed: Timed) -> list[str]:
    r = timed.result
    counts, seconds = r.counts, r.seconds
    proposals = list(r.proposals.values())
    measured = [m for p in proposals for m in p.statements if m.measured]
    sql_ms = sum(sum(m.before_ms) + sum(m.after_ms) for m in measured)
    helped = {m.query for m in measured}
    sets = sum(m.parameter_sets for m in measured)  # each warmed once before and after
    timed_runs = sum(len(m.before_ms) + len(m.after_ms) for m in measured)
    steps_s = sum(seconds.values())
    thresholds = next((n for n in r.notes if n.startswith("Thresholds:")), "")
    total_s = timed.model_s + timed.audit_s
    what = {
        "workload": f"{counts.get('slow_statements', 0)} statements kept, "
                    f"{counts.get('skipped_statements', 0)} skipped",
        "knowledge": f"{counts.get('solved_before', 0)} solved before (the knowledge base "
                     "starts empty)",
        "explain": f"{counts.get('explained', 0)} explained (generic plan each)",
        "propose": "candidates, HypoPG what-if, selection: "
                   f"{counts.get('proposals', 0)} indexes chosen",
        "measure": f"{len(proposals)} proposals, {len(measured)} statement measurements "
                   f"({len(helped)} statements, {sets} parameter sets), "
                   f"{timed_runs + 2 * sets} EXPLAIN ANALYZE; statements' own execution "
                   f"{sql_ms / 1000:.1f} s of the {timed_runs} timed runs",
        "remember": f"{counts.get('remembered', 0)} findings embedded and stored",
        "classify": f"{counts.get('rejected', 0)} rejected, {counts.get('pr_merge', 0)} "
                    f"pr_merge, {counts.get('pr_review', 0)} pr_review, "
                    f"{counts.get('log', 0)} log, {counts.get('investigate', 0)} investigate",
    }
    rows = [["embedding model load", f"{timed.model_s:.2f}",
             "all-MiniLM-L6-v2, once per process (before the audit)"]]
    rows += [[step, f"{seconds.get(step, 0.0):.2f}", what[step]] for step in audit.STEPS]
    rows.append(["outside the steps", f"{timed.audit_s - steps_s:.2f}",
                 "connections, store migration, catalog, analysis, run records"])
    rows.append(["total", f"{total_s:.2f}", f"target under {TARGET_S:.0f} s: "
                 + ("PASS" if total_s < TARGET_S else "FAIL")])
    rows_total = sum(data.rows.values())
    per_table = ", ".join(f"{n:,} {t}" for t, n in data.rows.items())
    lines = [
        *info,
        f"data:       {len(data.rows)} tables, {rows_total:,} rows, "
        f"{data.table_bytes / 1e6:,.0f} MB of tables + {data.index_bytes / 1e6:,.0f} MB of "
        "indexes; " + (f"load {data.load_s:.1f} s" if data.load_s is not None
                       else "reused the loaded data"),
        f"            ({per_table})",
        f"workload:   {queries} distinct statements, {calls} calls each ({play_s:.1f} s); "
        f"pg_stat_statements: {entries} entries",
        f"audit:      whatif hypopg, runs {runs} (+1 warm-up each side), knowledge base on "
        "(empty, no pgvector: numpy), no language model",
        f"            {thresholds}",
        f"result:     {counts.get('slow_statements', 0)} statements, "
        f"{counts.get('proposals', 0)} proposals, {counts.get('without_proposal', 0)} "
        "statements without one",
        "",
        *table(["step", "seconds", "what"], rows),
    ]
    if r.errors:
        lines += ["", "errors: " + "; ".join(r.errors)]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--statements", type=int, default=100,
                        help="distinct statements in the workload (default %(default)s)")
    parser.add_argument("--runs", type=int, default=3,
                        help="EXPLAIN ANALYZE runs before and after each proposal, as "
                        "AuditRequest.runs (default %(default)s, the audit's default)")
    parser.add_argument("--budget",
                        help="storage budget for the new indexes, e.g. 1GB (default: the "
                        "audit's, a quarter of the database's size)")
    parser.add_argument("--calls", type=int, default=3,
                        help="executions of each statement before the audit (default "
                        "%(default)s)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="rows relative to the default 3.3 million (default %(default)s)")
    parser.add_argument("--server-dir", type=Path, default=DEFAULT_SERVER_DIR,
                        help="where the PostgreSQL 15 cluster lives (default %(default)s)")
    parser.add_argument("--keep-server", action="store_true",
                        help="leave the server and the loaded data for a later run")
    parser.add_argument("--reload", action="store_true",
                        help="load the data even if a kept server has it")
    parser.add_argument("--json", type=Path,
                        help="write the audit's result document (AuditResult.to_json) here")
    parser.add_argument("--profile", type=Path,
                        help="write a cProfile of the audit (model load excluded) to this file")
    args = parser.parse_args(argv)
    if args.statements < 1:
        parser.error("--statements must be at least 1")
    sizes = Sizes.at(args.scale)
    queries = workload(args.statements)

    server = pg15_server(args.server_dir, DATABASE, SERVER_SETTINGS, keep=args.keep_server)
    with server as conninfo, \
            tempfile.TemporaryDirectory(prefix="pga-audit-bench-") as tmp:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            data = prepare(conn, sizes, args.reload)
            hypopg = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'hypopg'").fetchone()
        # Before the statistics are reset: its SELECT version() is not the application's.
        info = machine(conninfo, f"HypoPG {hypopg[0] if hypopg else '?'}")
        info[0] = f"{cpu()}, {memory()}"
        print(f"playing {len(queries)} statements x {args.calls} ...", file=sys.stderr)
        play_s = play(conninfo, queries, sizes, args.calls)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            entries = statement_entries(conn)
        timed = run_audit(conninfo, len(queries), args.runs, args.budget, Path(tmp),
                          args.profile)
    print("\n".join(report(info, data, len(queries), entries, args.calls, play_s, args.runs,
                           timed)))
    if args.json:
        args.json.write_text(json.dumps(timed.result.to_json(), default=str, indent=1))


if __name__ == "__main__":
    main()
