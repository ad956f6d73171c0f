-- +goose Up
-- The web app shows times in each user's time zone (an IANA name; the demo users are in
-- Asia/Shanghai). Existing users keep UTC until someone sets theirs.
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

-- +goose Down
ALTER TABLE users DROP COLUMN time_zone;
