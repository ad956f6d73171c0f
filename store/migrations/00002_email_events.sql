-- +goose Up
-- Provider events (SendGrid event webhook) already applied, by their sg_event_id:
-- SendGrid delivers each event at least once, so a repeated one is skipped.
CREATE TABLE email_events (
    event_id            text PRIMARY KEY,                   -- sg_event_id
    event               text NOT NULL,                      -- delivered, bounce, dropped
    idempotency_key     text NOT NULL DEFAULT '',           -- our custom arg, when present
    provider_message_id text NOT NULL DEFAULT '',           -- sg_message_id
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_events_received ON email_events (received_at);

-- +goose Down
DROP TABLE email_events;
