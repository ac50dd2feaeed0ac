-- A helpdesk / ticketing application (database "helpdesk"): requesters open
-- issues, agents in teams answer them; comments, an event log, a help centre
-- with full-text search. Invented for benchmarks/kb_eval.py; used nowhere else
-- in the repository.

CREATE TABLE teams (
    id        integer PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    timezone  text NOT NULL
);

CREATE TABLE agents (
    id             integer PRIMARY KEY,
    team_id        integer NOT NULL REFERENCES teams,
    email          text NOT NULL UNIQUE,
    full_name      text NOT NULL,
    role           text NOT NULL DEFAULT 'agent',
    active         boolean NOT NULL DEFAULT true,
    last_login_at  timestamptz
);

CREATE TABLE requesters (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    organization  text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE issues (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref                text NOT NULL UNIQUE,
    requester_id       bigint NOT NULL REFERENCES requesters,
    team_id            integer REFERENCES teams,
    assignee_id        integer REFERENCES agents,
    status             text NOT NULL DEFAULT 'open',
    priority           smallint NOT NULL DEFAULT 3,
    channel            text NOT NULL,
    subject            text NOT NULL,
    description        text,
    tags               text[] NOT NULL DEFAULT '{}',
    custom             jsonb NOT NULL DEFAULT '{}',
    opened_at          timestamptz NOT NULL DEFAULT now(),
    first_response_at  timestamptz,
    resolved_at        timestamptz,
    due_at             timestamptz
);
CREATE INDEX issues_requester_id_idx ON issues (requester_id);

CREATE TABLE issue_comments (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id             bigint NOT NULL REFERENCES issues,
    author_agent_id      integer REFERENCES agents,
    author_requester_id  bigint REFERENCES requesters,
    public               boolean NOT NULL DEFAULT true,
    body                 text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE issue_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id        bigint NOT NULL REFERENCES issues,
    kind            text NOT NULL,
    actor_agent_id  integer REFERENCES agents,
    payload         jsonb,
    happened_at     timestamp NOT NULL DEFAULT localtimestamp
);
CREATE INDEX issue_events_issue_happened_idx ON issue_events (issue_id, happened_at);

CREATE TABLE help_articles (
    id          integer PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    locale      text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    published   boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
