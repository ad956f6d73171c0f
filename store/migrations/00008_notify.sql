-- +goose Up
-- Live updates of the web app (issue 11): every insert into and update of tasks and
-- escalations notifies serviceflow_changes with {"table", "op", "id"}, which the web
-- app's hub LISTENs to (store.Hub) and streams to the pages as server-sent events. A
-- NOTIFY is sent when its transaction commits, so a page re-reading on it sees the change.
-- +goose StatementBegin
CREATE FUNCTION serviceflow_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('serviceflow_changes',
        json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'id', NEW.id)::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER tasks_notify_change AFTER INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION serviceflow_notify_change();
CREATE TRIGGER escalations_notify_change AFTER INSERT OR UPDATE ON escalations
    FOR EACH ROW EXECUTE FUNCTION serviceflow_notify_change();

-- +goose Down
DROP TRIGGER escalations_notify_change ON escalations;
DROP TRIGGER tasks_notify_change ON tasks;
DROP FUNCTION serviceflow_notify_change();
