-- The advisor's acceptance schema (tests/test_advisor_acceptance.py): tables big
-- enough that an index changes the plan, filled with generate_series data, skewed
-- where a real application is (statuses, countries, event kinds), then ANALYZEd.
-- Values come from hashint4 and arithmetic on the row number, never random(): the
-- same data on every load, on every server. Only primary keys and the indexes
-- named below exist; the foreign table is created by the fixture (it needs the
-- server's address). Autovacuum is off for every table: its ANALYZE would resample
-- the statistics in the middle of the tests.

SET client_min_messages = warning;

-- 100,000 users. email and name are unique, country is skewed (60% US, 20% DE, 2%
-- each for ten others), 2% are soft-deleted.
CREATE TABLE users (
    id int PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    country text NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz
) WITH (autovacuum_enabled = false);
INSERT INTO users
SELECT g,
       'user' || g || '@example.com',
       'Member ' || substr(md5(g::text), 1, 16),
       CASE WHEN g % 10 < 6 THEN 'US' WHEN g % 10 < 8 THEN 'DE'
            ELSE (ARRAY['FR', 'NZ', 'JP', 'BR', 'IN', 'CA', 'ES', 'IT', 'NL', 'SE'])[g / 10 % 10 + 1]
       END,
       timestamptz '2023-01-01' + g * interval '5 minutes',
       CASE WHEN g % 50 = 0 THEN timestamptz '2024-06-01' + g * interval '1 minute' END
FROM generate_series(1, 100000) g;

-- 40 rows: too small for any index to matter.
CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL, region text NOT NULL)
    WITH (autovacuum_enabled = false);
INSERT INTO countries
SELECT 'C' || g, 'Country ' || g, (ARRAY['EU', 'NA', 'APAC', 'LATAM'])[g % 4 + 1]
FROM generate_series(1, 40) g;

-- 8,000 tags: small enough that a sequential scan takes a fraction of a millisecond,
-- big enough to pass the advisor's min_cost.
CREATE TABLE tags (
    id int PRIMARY KEY,
    name text NOT NULL,
    color text NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO tags
SELECT g, 'tag-' || g, (ARRAY['red', 'green', 'blue'])[g % 3 + 1]
FROM generate_series(1, 8000) g;

-- 200,000 posts by 2,000 users in 500 blogs (the two independent of each other:
-- user_id is the more selective), stored in created_at order. 90% are published,
-- 3% deleted, and the newest 5% are drafts.
CREATE TABLE posts (
    id int PRIMARY KEY,
    user_id int NOT NULL,
    blog_id int NOT NULL,
    status text NOT NULL,
    title text NOT NULL,
    score int NOT NULL,
    created_at timestamptz NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO posts
SELECT g,
       1 + abs(hashint4(g)) % 2000,
       1 + abs(hashint4(g + 1000000)) % 500,
       CASE WHEN g > 190000 THEN 'draft' WHEN g % 100 < 3 THEN 'deleted' ELSE 'published' END,
       'Post number ' || g,
       abs(hashint4(g + 2000000)) % 100000,
       timestamptz '2024-01-01' + g * interval '2 minutes'
FROM generate_series(1, 200000) g;

-- 100,000 comments, already indexed on post_id.
CREATE TABLE comments (
    id int PRIMARY KEY,
    post_id int NOT NULL REFERENCES posts,
    user_id int NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO comments
SELECT g, 1 + abs(hashint4(g + 3000000)) % 200000, 1 + abs(hashint4(g + 4000000)) % 100000,
       'Comment ' || g, timestamptz '2024-01-01' + g * interval '4 minutes'
FROM generate_series(1, 100000) g;
CREATE INDEX comments_post_id_idx ON comments (post_id);

-- Sessions: 50,000 rows, each then updated twice: 150,000 row writes, a write-heavy
-- table.
CREATE TABLE sessions (
    id int PRIMARY KEY,
    token text NOT NULL,
    user_id int NOT NULL,
    seen_at timestamptz NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO sessions
SELECT g, md5('token' || g), 1 + g % 100000, timestamptz '2024-01-01' + g * interval '1 minute'
FROM generate_series(1, 50000) g;
UPDATE sessions SET seen_at = seen_at + interval '1 hour';
UPDATE sessions SET seen_at = seen_at + interval '1 hour';

-- 120,000 events in six monthly partitions; kind is skewed (70% 'view').
CREATE TABLE events (
    id bigint NOT NULL,
    user_id int NOT NULL,
    kind text NOT NULL,
    created_at timestamptz NOT NULL
) PARTITION BY RANGE (created_at);
CREATE TABLE events_2024_01 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')
    WITH (autovacuum_enabled = false);
CREATE TABLE events_2024_02 PARTITION OF events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')
    WITH (autovacuum_enabled = false);
CREATE TABLE events_2024_03 PARTITION OF events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01')
    WITH (autovacuum_enabled = false);
CREATE TABLE events_2024_04 PARTITION OF events FOR VALUES FROM ('2024-04-01') TO ('2024-05-01')
    WITH (autovacuum_enabled = false);
CREATE TABLE events_2024_05 PARTITION OF events FOR VALUES FROM ('2024-05-01') TO ('2024-06-01')
    WITH (autovacuum_enabled = false);
CREATE TABLE events_2024_06 PARTITION OF events FOR VALUES FROM ('2024-06-01') TO ('2024-07-01')
    WITH (autovacuum_enabled = false);
INSERT INTO events
SELECT g, 1 + abs(hashint4(g + 5000000)) % 5000,
       CASE WHEN g % 10 < 7 THEN 'view' WHEN g % 10 < 9 THEN 'click'
            ELSE (ARRAY['signup', 'purchase', 'share', 'report'])[g % 40 / 10 + 1] END,
       timestamptz '2024-01-01' + (g - 1) * interval '130 seconds'
FROM generate_series(1, 120000) g;

-- Quoted, mixed-case names in a schema of their own (as an ORM would make them):
-- 100,000 actions of 500 users, 200 each, one session per 20 actions.
CREATE SCHEMA "App";
CREATE TABLE "App"."BehaviorLog" (
    id int PRIMARY KEY,
    "userId" int NOT NULL,
    "sessionId" text NOT NULL,
    action text NOT NULL,
    "timestamp" timestamptz NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO "App"."BehaviorLog"
SELECT g, 1 + abs(hashint4(g + 6000000)) % 500, md5('session' || (g / 20)),
       (ARRAY['open', 'scroll', 'click', 'close'])[g % 4 + 1],
       timestamptz '2024-01-01' + g * interval '30 seconds'
FROM generate_series(1, 100000) g;

-- A view and a materialized view over them.
CREATE VIEW published_posts AS
SELECT id, user_id, blog_id, title, score, created_at FROM posts WHERE status = 'published';

CREATE MATERIALIZED VIEW user_activity WITH (autovacuum_enabled = false) AS
SELECT u.id AS user_id, u.country, count(c.id) AS comment_count, max(c.created_at) AS last_comment
FROM users u LEFT JOIN comments c ON c.user_id = u.id
GROUP BY u.id, u.country;

-- Statistics, and the visibility maps index-only scans are costed from (the
-- fixture VACUUMs again until every page is marked).
ANALYZE;
VACUUM;
