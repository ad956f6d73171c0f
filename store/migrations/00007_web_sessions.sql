-- +goose Up
-- The web app's sign-in (issue 11). A user signs in with a password (an argon2id hash
-- in PHC form; NULL: no password, so no web sign-in). A session is a random token in an
-- HttpOnly cookie; only its SHA-256 is stored, like a bearer token's. last_seen_at moves
-- with each request and a session idle for longer than the idle timeout is refused.
ALTER TABLE users ADD COLUMN password_hash text;

CREATE TABLE web_sessions (
    token_hash   bytea PRIMARY KEY,
    username     text NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_username ON web_sessions (username);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);

-- Failed sign-ins by the username typed (lower-cased; unknown usernames count too, so
-- nobody learns which exist): failures in the current window and, past the limit, when
-- the lockout ends. A successful sign-in deletes the row.
CREATE TABLE sign_in_failures (
    username       text PRIMARY KEY,
    failures       int NOT NULL,
    first_failed_at timestamptz NOT NULL,
    locked_until   timestamptz
);

-- +goose Down
DROP TABLE sign_in_failures;
DROP TABLE web_sessions;
ALTER TABLE users DROP COLUMN password_hash;
