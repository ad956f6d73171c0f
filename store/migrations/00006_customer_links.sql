-- +goose Up
-- Customer links: a personal URL e-mailed to a customer, through which the customer
-- answers a process once (complaint feedback today; order confirmation, delivery
-- acceptance and surveys next). Only the SHA-256 of the token is stored: the token is
-- derived from the link's key with a secret (HMAC), so a retried activity or a reminder
-- e-mails the same link without the token being kept anywhere but in the e-mail.
CREATE TABLE customer_links (
    id             text PRIMARY KEY,                       -- lnk_<hash of key>
    key            text NOT NULL UNIQUE,                   -- <workflow id>/<step key>, e.g. complaint/cmp_1/feedback/1
    token_hash     bytea NOT NULL UNIQUE,
    purpose        text NOT NULL,                          -- complaint_feedback, order_confirmation, ...
    process        text NOT NULL,
    process_id     text NOT NULL,
    workflow_id    text NOT NULL,
    round          int NOT NULL DEFAULT 1,
    customer_id    text NOT NULL DEFAULT '',
    customer_email text NOT NULL,
    customer_name  text NOT NULL DEFAULT '',
    locale         text NOT NULL,
    context        jsonb NOT NULL DEFAULT '{}',            -- what the page shows, e.g. the complaint's subject
    -- The Update the answer goes to: customer-link-answer, or submit-feedback for
    -- complaint runs from before customer links.
    answer_update  text NOT NULL DEFAULT 'customer-link-answer',
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'expired')),
    expires_at     timestamptz NOT NULL,
    answer         jsonb,
    answered_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'answered') = (answered_at IS NOT NULL))
);
CREATE INDEX customer_links_process ON customer_links (process_id, created_at);
CREATE INDEX customer_links_open ON customer_links (expires_at) WHERE status = 'open';

-- The complaint feedback links already e-mailed keep working: same token (now hashed),
-- same key as their e-mail. Their runs take the answer through submit-feedback and
-- decide themselves when feedback is no longer awaited; the expiry here is a backstop
-- beyond the default wait of 7 days. A closed complaint's unanswered link is expired.
INSERT INTO customer_links (id, key, token_hash, purpose, process, process_id, workflow_id, round,
        customer_id, customer_email, customer_name, locale, context, answer_update, status,
        expires_at, answer, answered_at, created_at)
SELECT 'lnk_' || upper(substr(encode(sha256(convert_to(f.workflow_id || '/feedback/' || f.round, 'UTF8')), 'hex'), 1, 26)),
       f.workflow_id || '/feedback/' || f.round,
       sha256(convert_to(f.token, 'UTF8')),
       'complaint_feedback', 'complaint', f.complaint_id, f.workflow_id, f.round,
       cu.id, cu.email, cu.name, cu.locale,
       jsonb_build_object('complaint_id', c.id, 'subject', c.subject),
       'submit-feedback',
       CASE WHEN f.answered_at IS NOT NULL THEN 'answered' WHEN c.status = 'closed' THEN 'expired' ELSE 'open' END,
       f.created_at + interval '30 days',
       CASE WHEN f.answered_at IS NOT NULL THEN jsonb_build_object('score', f.score, 'comment', COALESCE(f.comment, '')) END,
       f.answered_at,
       f.created_at
FROM feedback_requests f
JOIN complaints c ON c.id = f.complaint_id
JOIN customers cu ON cu.id = c.customer_id;

DROP TABLE feedback_requests;

-- +goose Down
-- The tokens cannot be recovered from their hashes: links made since cannot be
-- carried back, and the old table comes back empty.
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
DROP TABLE customer_links;
