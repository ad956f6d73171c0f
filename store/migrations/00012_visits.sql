-- +goose Up
-- Return visits (DOMAIN.md process 4). A visit plan's row is the read model of its
-- workflow: inserted by the API as a draft before the workflow starts, then replaced by
-- the workflow's projections. Its state (title, visits, approval record) is JSON; the
-- columns are what lists filter on.
CREATE TABLE visit_plans (
    id            text PRIMARY KEY,                        -- vpl_...
    workflow_id   text NOT NULL UNIQUE,
    title         text NOT NULL,
    status        text NOT NULL CHECK (status IN ('draft','submitted','approved','completed')),
    created_by    text NOT NULL REFERENCES users(username),
    state         jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_plans_status ON visit_plans (status, id);
CREATE INDEX visit_plans_created_by ON visit_plans (created_by, id);

-- One row per visit, of a plan (process visit_plan) or of a survey detractor (process
-- survey): inserted scheduled when a plan is approved, then kept by the visit workflow.
-- A plan's completion rate counts its rows by status.
CREATE TABLE visits (
    id            text PRIMARY KEY,                        -- vis_...
    workflow_id   text NOT NULL UNIQUE,
    process       text NOT NULL,
    process_id    text NOT NULL,
    seq           int NOT NULL DEFAULT 0,                  -- a plan visit's place in the plan
    customer_id   text NOT NULL REFERENCES customers(id),
    rep           text NOT NULL REFERENCES users(username),
    status        text NOT NULL CHECK (status IN ('scheduled','appointment','open','completed')),
    due_at        timestamptz NOT NULL,
    satisfaction  int CHECK (satisfaction BETWEEN 1 AND 5),
    complaint_id  text,
    completed_at  timestamptz,
    state         jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_case ON visits (process, process_id, seq, id);
CREATE INDEX visits_rep ON visits (rep, status, due_at);
CREATE INDEX visits_customer ON visits (customer_id, id);

-- A complaint opened by a problem found on a visit names its visit.
ALTER TABLE complaints ADD COLUMN visit_id text;
CREATE INDEX complaints_visit ON complaints (visit_id) WHERE visit_id IS NOT NULL;

-- +goose Down
DROP INDEX complaints_visit;
ALTER TABLE complaints DROP COLUMN visit_id;
DROP TABLE visits, visit_plans;
