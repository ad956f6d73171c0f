-- +goose Up
-- Contract review (DOMAIN.md process 1). The row is the read model of the contract
-- workflow: the version under review (or in force once approved) and its state as JSON.
CREATE TABLE contracts (
    id            text PRIMARY KEY,                        -- ctr_...
    workflow_id   text NOT NULL UNIQUE,
    customer_id   text NOT NULL REFERENCES customers(id),
    title         text NOT NULL,
    class         text NOT NULL,
    status        text NOT NULL,
    revision      int NOT NULL,
    submitted_by  text NOT NULL REFERENCES users(username),
    submitted_at  timestamptz NOT NULL,
    current_steps text[] NOT NULL DEFAULT '{}',
    amount        numeric(19,4) NOT NULL,
    currency      text NOT NULL,
    state         jsonb NOT NULL,
    ledger_no     text UNIQUE,                             -- HT-<year>-<4-digit sequence>
    approved_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_status ON contracts (status, id);
CREATE INDEX contracts_submitter ON contracts (submitted_by, id);
CREATE INDEX contracts_customer ON contracts (customer_id, id);
-- The ledger: approved contracts in ledger order.
CREATE INDEX contracts_ledger ON contracts (ledger_no) WHERE ledger_no IS NOT NULL;

-- The review record: every decision with reviewer, time, decision and comment.
CREATE TABLE contract_reviews (
    task_id     text PRIMARY KEY,
    contract_id text NOT NULL REFERENCES contracts(id),
    revision    int NOT NULL,
    step        text NOT NULL,
    reviewer    text NOT NULL,
    decision    text NOT NULL,
    comment     text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL
);
CREATE INDEX contract_reviews_contract ON contract_reviews (contract_id, at, task_id);

-- One counter a year. Taking a number locks the year's row until the transaction that
-- stores it on the contract commits, so numbers have no gaps and no duplicates.
CREATE TABLE contract_ledger_seq (
    year int PRIMARY KEY,
    last int NOT NULL
);

-- +goose Down
DROP TABLE contract_ledger_seq, contract_reviews, contracts;
