-- +goose Up
-- Satisfaction surveys (DOMAIN.md process 4). A programme is a Temporal Schedule; this
-- row is what the API lists and pauses with it. A cycle is one run of a programme: its
-- invitations are customer links (purpose 'survey') whose answers the /c/{token}
-- request writes straight into customer_links (answer_update 'store'), so a cycle of
-- 10 000 customers is not 10 000 Updates in one workflow history.
CREATE TABLE survey_programmes (
    id          text PRIMARY KEY,                           -- svp_...
    name        text NOT NULL,
    audience    text NOT NULL CHECK (audience IN ('all_active', 'tier_a', 'new_customers')),
    cadence     text NOT NULL CHECK (cadence IN ('quarterly', 'monthly', 'daily')),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE survey_cycles (
    id           text PRIMARY KEY,                          -- svc_<hash of workflow id>
    workflow_id  text NOT NULL UNIQUE,
    programme_id text REFERENCES survey_programmes(id),
    audience     text NOT NULL,
    status       text NOT NULL CHECK (status IN ('inviting', 'open', 'closed')),
    invited      int NOT NULL DEFAULT 0,
    started_by   text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    closes_at    timestamptz,
    closed_at    timestamptz,
    results      jsonb                                       -- the final figures, once closed
);
CREATE INDEX survey_cycles_started ON survey_cycles (started_at DESC, id DESC);
CREATE INDEX survey_cycles_programme ON survey_cycles (programme_id, started_at DESC);

-- The quiet period: each customer's last survey invitation. A cycle claims a customer
-- with one INSERT … ON CONFLICT DO UPDATE … WHERE, which locks the row: of two cycles
-- starting at once (the quarterly and the monthly programme on the 1st of April), one
-- invites the customer and the other finds them quiet.
CREATE TABLE survey_invitees (
    customer_id text PRIMARY KEY REFERENCES customers(id),
    cycle_id    text NOT NULL,
    invited_at  timestamptz NOT NULL
);
-- A cycle reads its own links: the unanswered ones to remind, the answered ones to count.
CREATE INDEX customer_links_process_status ON customer_links (process_id, status, id);
-- A cycle's delivery pass pages through its e-mails still in the outbox, by key.
CREATE INDEX emails_process_unsettled ON emails (process_id, idempotency_key) WHERE status IN ('queued', 'sending');

-- The return visit of a detractor, once started: the catch-up at the cycle's reminders
-- and close starts those whose /c/{token} request could not.
CREATE TABLE survey_visits (
    link_id     text PRIMARY KEY REFERENCES customer_links(id),
    cycle_id    text NOT NULL,
    customer_id text NOT NULL,
    workflow_id text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX survey_visits_cycle ON survey_visits (cycle_id);

-- +goose Down
DROP TABLE survey_visits;
DROP INDEX emails_process_unsettled;
DROP INDEX customer_links_process_status;
DROP TABLE survey_invitees;
DROP TABLE survey_cycles;
DROP TABLE survey_programmes;
