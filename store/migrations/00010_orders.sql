-- +goose Up
-- Order fulfilment (DOMAIN.md process 2). The row is the read model of the order
-- workflow: its state as JSON, with the columns lists and the credit check filter on.
CREATE TABLE orders (
    id            text PRIMARY KEY,                        -- ord_...
    workflow_id   text NOT NULL UNIQUE,
    customer_id   text NOT NULL REFERENCES customers(id),
    contract_id   text REFERENCES contracts(id),
    rep           text NOT NULL REFERENCES users(username),
    status        text NOT NULL,
    total_amount  numeric(19,4) NOT NULL,
    currency      text NOT NULL,
    state         jsonb NOT NULL,
    entered_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_status ON orders (status, id);
CREATE INDEX orders_customer ON orders (customer_id, id);
CREATE INDEX orders_rep ON orders (rep, id);
CREATE INDEX orders_contract ON orders (contract_id) WHERE contract_id IS NOT NULL;

-- Invoices: FP-<year>-<6 digits>, gap-free. A voided invoice keeps its number (status
-- void), so the ledger has no holes.
CREATE TABLE invoices (
    number       text PRIMARY KEY,
    key          text NOT NULL UNIQUE,                     -- the workflow's issue key
    order_id     text NOT NULL REFERENCES orders(id),
    customer_id  text NOT NULL REFERENCES customers(id),
    kind         text NOT NULL CHECK (kind IN ('final','prepayment')),
    amount       numeric(19,4) NOT NULL,
    paid         numeric(19,4) NOT NULL DEFAULT 0,
    currency     text NOT NULL,
    issued_at    timestamptz NOT NULL,
    due_on       date NOT NULL,
    status       text NOT NULL CHECK (status IN ('open','paid','void')),
    voided_at    timestamptz,
    void_reason  text
);
CREATE INDEX invoices_order ON invoices (order_id);
-- "which invoices are overdue?": open ones by due date.
CREATE INDEX invoices_open_due ON invoices (due_on, number) WHERE status = 'open';
CREATE INDEX invoices_customer_open ON invoices (customer_id) WHERE status = 'open';
CREATE INDEX invoices_status ON invoices (status, number);

-- One counter a year, locked by the transaction that issues a number (as the ledger).
CREATE TABLE invoice_seq (
    year int PRIMARY KEY,
    last int NOT NULL
);

-- Money received: payments against an invoice and prepayments before the credit check.
CREATE TABLE order_payments (
    id           text PRIMARY KEY,                         -- the workflow's payment id
    order_id     text NOT NULL REFERENCES orders(id),
    kind         text NOT NULL CHECK (kind IN ('payment','prepayment')),
    invoice_no   text REFERENCES invoices(number),
    amount       numeric(19,4) NOT NULL,
    currency     text NOT NULL,
    received_on  date NOT NULL,
    reference    text NOT NULL,
    recorded_by  text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX order_payments_order ON order_payments (order_id, at);

-- A complaint opened by a problem reported at delivery names its order (order_id).
CREATE INDEX complaints_order ON complaints (order_id) WHERE order_id IS NOT NULL;

-- +goose Down
DROP INDEX complaints_order;
DROP TABLE order_payments, invoice_seq, invoices, orders;
