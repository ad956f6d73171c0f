-- +goose Up
-- The group inbox pages through the open, unassigned tasks of the user's groups in due
-- order. The GIN index on candidate_groups found every waiting task of a group, and the
-- query then fetched and sorted them all (the planner cannot tell how many an array
-- overlap matches, so it chose that even for a group of thousands). This partial index is
-- walked in page order instead, and carries the columns of the group filter, so a page's
-- ids come from the index alone.
DROP INDEX tasks_group;
CREATE INDEX tasks_group_queue ON tasks (due_at, priority DESC, id) INCLUDE (candidate_groups, exclude_users)
    WHERE assignee IS NULL AND status = 'open';

-- +goose Down
DROP INDEX tasks_group_queue;
CREATE INDEX tasks_group ON tasks USING gin (candidate_groups) WHERE assignee IS NULL AND status = 'open';
