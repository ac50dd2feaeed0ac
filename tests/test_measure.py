"""Measurement is generic: before and after of a statement under any change (an index,
a setting, a rewrite), with several parameter sets, inside a transaction rolled back;
confidence counts a measurement unlike the workload against a proposal."""

from __future__ import annotations

import pytest
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.index.verify import IndexTrial
from pgarchitect.analysis import analyze, load_catalog
from pgarchitect.catalog.index import IndexDef, IndexKey
from pgarchitect.confidence import measured_factors
from pgarchitect.measure import RewriteTrial, SettingTrial, StatementInput, measure
from pgarchitect.plans import sample_parameter_sets
from pgarchitect.proposal import Measurement
from pgarchitect.settings import load_config

SCHEMA = """
CREATE TABLE m_orders (id bigint PRIMARY KEY, customer int NOT NULL, status text NOT NULL,
                       total numeric NOT NULL);
INSERT INTO m_orders
SELECT g, g % 5000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'closed' END, g % 997
FROM generate_series(1, 200000) g;
-- A few customers with more orders than the others (200 against 40), as real ones
-- have: ANALYZE finds them among the most common values whatever rows it samples,
-- so the parameter sets drawn from the statistics do not depend on its luck.
INSERT INTO m_orders
SELECT 200000 + g, 1 + g % 6, 'closed', g % 997 FROM generate_series(1, 960) g;
ANALYZE m_orders;
"""
BY_CUSTOMER = "SELECT id, total FROM m_orders WHERE customer = $1"


@pytest.fixture
def orders(pg_db: TestDatabase) -> TestDatabase:
    with pg_db.connect() as conn:
        conn.execute(SCHEMA.encode())
    return pg_db


def _input(conn: db.Connection, query: str, **kwargs: object) -> StatementInput:
    analysis = analyze(query, load_catalog(conn))
    return StatementInput(query, analysis.params, **kwargs)  # type: ignore[arg-type]


def test_several_parameter_sets_are_drawn_from_the_data(orders: TestDatabase) -> None:
    with db.connect(orders.conninfo, load_config()) as conn:
        analysis = analyze(BY_CUSTOMER, load_catalog(conn))
        sets = sample_parameter_sets(conn, BY_CUSTOMER, analysis.params, count=3)
        assert not isinstance(sets, str) and isinstance(sets, list)
        assert len({s.values for s in sets}) == 3, sets
        logged = sample_parameter_sets(conn, BY_CUSTOMER, analysis.params,
                                       [("7",), ("7",), ("8",), ("9",), ("10",)], count=3)
        assert isinstance(logged, list)
        assert [s.values for s in logged] == [("7",), ("8",), ("9",)]
        assert all(s.origins == ("log",) for s in logged)


def test_an_index_measured_with_every_set_and_rolled_back(orders: TestDatabase) -> None:
    index = IndexDef("public", "m_orders", (IndexKey("customer"),))
    with db.connect(orders.conninfo, load_config()) as conn:
        [m] = measure(conn, IndexTrial(index, 0), [_input(conn, BY_CUSTOMER, mean_ms=5.0,
                                                           hit_ratio=0.5)], runs=2, sets=3)
        exists = conn.execute("SELECT to_regclass('public.m_orders_customer_idx')").fetchone()
    assert exists == (None,)  # rolled back
    assert m.parameter_sets == 3 and m.runs_per_set == 2
    assert len(m.before_ms) == len(m.after_ms) == 6
    assert m.uses_change and m.gain is not None and m.gain > 0.5, m
    assert m.measured_mean_ms is not None and m.measured_hit_ratio is not None
    assert m.workload_mean_ms == 5.0 and m.workload_hit_ratio == 0.5


def test_a_setting_and_a_rewrite_are_measured_the_same_way(orders: TestDatabase) -> None:
    query = "SELECT count(*) FROM m_orders WHERE status = $1"
    rewrite = "SELECT count(*) FROM m_orders WHERE status = $1 AND id > 0"
    with db.connect(orders.conninfo, load_config()) as conn:
        [setting] = measure(conn, SettingTrial({"work_mem": "77kB"}),
                            [_input(conn, query)], runs=1, sets=2)
        [rewritten] = measure(conn, RewriteTrial({query: rewrite}), [_input(conn, query)],
                              runs=1, sets=1)
        after = conn.execute("SHOW work_mem").fetchone()
    assert setting.measured and setting.after_query is None
    assert after is not None and after[0] != "77kB"  # SET LOCAL: gone with the rollback
    assert rewritten.measured and rewritten.after_query == rewrite


def test_a_measurement_unlike_the_workload_costs_confidence() -> None:
    def m(measured: float, workload: float) -> Measurement:
        return Measurement("q", before_ms=(measured,) * 3, after_ms=(measured / 4,) * 3,
                           uses_change=True, estimated_gain=0.75, parameter_sets=3,
                           runs_per_set=1, measured_mean_ms=measured, measured_hit_ratio=1.0,
                           workload_mean_ms=workload, workload_hit_ratio=0.04)

    _, _, alike, flags = measured_factors([m(12.0, 15.9)], {"q": 1.0})
    assert {f.name: f.value for f in alike}["like the workload"] == 1.0 and not flags
    _, _, unlike, flags = measured_factors([m(0.21, 15.9)], {"q": 1.0})
    factor = {f.name: f for f in unlike}["like the workload"]
    assert factor.value < 0.7
    assert "cache hits 4% there, 100% here" in factor.detail
    assert any("not like the workload" in f for f in flags)
    # Without a workload (statements given as text) there is nothing to compare.
    _, _, text, _ = measured_factors([Measurement("q", before_ms=(1.0,), after_ms=(0.5,))],
                                     {"q": 1.0})
    assert "like the workload" not in {f.name for f in text}
