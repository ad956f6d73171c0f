-- +goose Up
-- Users and roles. Ids are prefixed ULIDs (usr_...); usernames are the handle people use.
CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    email         text NOT NULL,
    locale        text NOT NULL DEFAULT 'en',
    manager       text REFERENCES users(username),          -- escalation target
    delegate      text REFERENCES users(username),          -- out-of-office delegate
    out_of_office boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_roles (
    username text NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    role     text NOT NULL,
    PRIMARY KEY (username, role)
);
CREATE INDEX user_roles_role ON user_roles (role, username);

-- Only the SHA-256 of a token is stored.
CREATE TABLE tokens (
    token_hash  bytea PRIMARY KEY,
    username    text NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX tokens_username ON tokens (username);

CREATE TABLE customers (
    id                    text PRIMARY KEY,                 -- cus_...
    name                  text NOT NULL,
    email                 text NOT NULL,
    locale                text NOT NULL,
    tier                  text NOT NULL CHECK (tier IN ('A','B','C','D')),
    owner                 text NOT NULL REFERENCES users(username),
    credit_limit_amount   numeric(19,4) NOT NULL DEFAULT 0,
    credit_limit_currency text NOT NULL DEFAULT 'CNY',
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_owner ON customers (owner, id);

CREATE TABLE complaints (
    id               text PRIMARY KEY,                      -- cmp_...
    workflow_id      text NOT NULL UNIQUE,
    customer_id      text NOT NULL REFERENCES customers(id),
    channel          text NOT NULL,
    subject          text NOT NULL,
    description      text NOT NULL,
    status           text NOT NULL,
    category         text,
    severity         text NOT NULL,
    assignee         text,
    order_id         text,
    filed_by         text NOT NULL,
    received_at      timestamptz NOT NULL,
    response_due_at  timestamptz NOT NULL,
    responded_at     timestamptz,
    resolution       jsonb,
    escalation_level int NOT NULL DEFAULT 0,
    closed_at        timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaints_status ON complaints (status, id);
CREATE INDEX complaints_customer ON complaints (customer_id, id);
-- "which complaints are late?": open, unanswered, past due.
CREATE INDEX complaints_unanswered_due ON complaints (response_due_at) WHERE responded_at IS NULL AND status <> 'closed';

CREATE TABLE tasks (
    id               text PRIMARY KEY,                      -- tsk_<hash of workflow/step/round/key>
    workflow_id      text NOT NULL,
    process          text NOT NULL,
    process_id       text NOT NULL,
    step             text NOT NULL,
    round            int NOT NULL DEFAULT 1,
    title            text NOT NULL,
    assignee         text,
    delegated_from   text,
    candidate_groups text[] NOT NULL DEFAULT '{}',
    exclude_users    text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open','completed','cancelled')),
    priority         int NOT NULL DEFAULT 0,
    actions          text[] NOT NULL,
    form             jsonb NOT NULL DEFAULT '[]',
    context          jsonb NOT NULL DEFAULT '{}',
    escalation_level int NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    completed_by     text,
    action           text,
    comment          text,
    data             jsonb
);
-- Inbox: "mine" (assignee) and "group" (unassigned, candidate group) ordered by due time then priority.
CREATE INDEX tasks_mine ON tasks (assignee, status, due_at, priority DESC, id);
CREATE INDEX tasks_group ON tasks USING gin (candidate_groups) WHERE assignee IS NULL AND status = 'open';
CREATE INDEX tasks_status_due ON tasks (status, due_at, priority DESC, id);
CREATE INDEX tasks_process ON tasks (process_id);

CREATE TABLE task_comments (
    id         text PRIMARY KEY,                            -- tcm_...
    task_id    text NOT NULL REFERENCES tasks(id),
    author     text NOT NULL,
    text       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_comments_task ON task_comments (task_id, created_at);

CREATE TABLE escalations (
    id              text PRIMARY KEY,                       -- esc_...
    workflow_id     text NOT NULL,
    process         text NOT NULL,
    process_id      text NOT NULL,
    task_id         text NOT NULL,
    step            text NOT NULL,
    level           int NOT NULL,
    reason          text NOT NULL,
    targets         text[] NOT NULL,
    raised_at       timestamptz NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz,
    ack_comment     text,
    UNIQUE (workflow_id, task_id, level)
);
CREATE INDEX escalations_open ON escalations (raised_at, id) WHERE acknowledged_at IS NULL;
CREATE INDEX escalations_level ON escalations (level, raised_at, id);
CREATE INDEX escalations_process ON escalations (process_id);

-- Audit trail; key makes each event idempotent under activity retries.
CREATE TABLE audit_events (
    seq        bigserial PRIMARY KEY,
    key        text NOT NULL UNIQUE,
    process    text NOT NULL,
    process_id text NOT NULL,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    event      text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_process ON audit_events (process_id, at, seq);

-- E-mail outbox. idempotency_key makes a send happen once per workflow step.
CREATE TABLE emails (
    id                  text PRIMARY KEY,                   -- eml_...
    idempotency_key     text NOT NULL UNIQUE,
    to_email            text NOT NULL,
    to_name             text NOT NULL DEFAULT '',
    locale              text NOT NULL,
    template            text NOT NULL,
    subject             text NOT NULL DEFAULT '',
    text_body           text NOT NULL DEFAULT '',
    html_body           text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','sending','sent','failed','delivered','bounced')),
    provider_message_id text,
    error               text,
    attempts            int NOT NULL DEFAULT 0,
    claimed_until       timestamptz,                        -- lease of the attempt in flight
    process             text NOT NULL DEFAULT '',
    process_id          text NOT NULL DEFAULT '',
    workflow_id         text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX emails_to ON emails (to_email, created_at DESC, id);
CREATE INDEX emails_process ON emails (process_id, created_at DESC, id);
CREATE INDEX emails_created ON emails (created_at DESC, id);
CREATE INDEX emails_provider ON emails (provider_message_id) WHERE provider_message_id IS NOT NULL;

-- Idempotency-Key for POSTs that create: same key + same body → same response.
CREATE TABLE idempotency_keys (
    username      text NOT NULL,
    scope         text NOT NULL,                            -- "POST /api/v1/complaints"
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    resource_id   text NOT NULL,
    status_code   int,
    response_body bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, scope, key)
);

-- Personal feedback links of the complaint follow-up. The token is in the e-mail the
-- outbox keeps anyway, so it is stored as is: a retried activity finds and resends it.
CREATE TABLE feedback_requests (
    token        text PRIMARY KEY,
    complaint_id text NOT NULL REFERENCES complaints(id),
    workflow_id  text NOT NULL,
    round        int NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    answered_at  timestamptz,
    score        int,
    comment      text,
    UNIQUE (complaint_id, round)
);

-- +goose Down
DROP TABLE feedback_requests, idempotency_keys, emails, audit_events, escalations,
    task_comments, tasks, complaints, customers, tokens, user_roles, users;
