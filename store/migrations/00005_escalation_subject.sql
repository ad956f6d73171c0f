-- +goose Up
-- An escalation is about a deadline, and not every deadline is a human task's: an
-- invoice's dunning ladder escalates with no task at all (DOMAIN.md process 2.9). Its
-- subject names what it is about, "<kind>/<id>": "task/<task id>" for a task,
-- "invoice/<invoice no>" for an invoice. task_id is set only when it is about a task,
-- and then the subject is always 'task/' || task_id (so existing rows are backfilled that
-- way, and uniqueness per subject is still uniqueness per task).
ALTER TABLE escalations ADD COLUMN subject text;
UPDATE escalations SET subject = 'task/' || task_id;
ALTER TABLE escalations
    ALTER COLUMN subject SET NOT NULL,
    ALTER COLUMN task_id DROP NOT NULL,
    DROP CONSTRAINT escalations_workflow_id_task_id_level_key,
    ADD CONSTRAINT escalations_workflow_id_subject_level_key UNIQUE (workflow_id, subject, level),
    ADD CONSTRAINT escalations_task_subject CHECK (task_id IS NULL OR subject = 'task/' || task_id);

-- +goose Down
-- Escalations without a task cannot be kept in the old shape.
DELETE FROM escalations WHERE task_id IS NULL;
ALTER TABLE escalations
    DROP CONSTRAINT escalations_task_subject,
    DROP CONSTRAINT escalations_workflow_id_subject_level_key,
    ADD CONSTRAINT escalations_workflow_id_task_id_level_key UNIQUE (workflow_id, task_id, level),
    ALTER COLUMN task_id SET NOT NULL,
    DROP COLUMN subject;
