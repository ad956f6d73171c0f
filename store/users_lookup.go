package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// UserContact is what the activities need to route and notify a user: where to write,
// in which language, and whom to fall back to (manager, out-of-office delegate).
type UserContact struct {
	Username    string
	DisplayName string
	Email       string
	Locale      string
	Manager     string // "" when none
	Delegate    string // "" when none
	OutOfOffice bool
}

// LookupUser returns a user's contact and routing data, or ErrNotFound.
func LookupUser(ctx context.Context, q Querier, username string) (UserContact, error) {
	var u UserContact
	err := q.QueryRow(ctx, `SELECT username, display_name, email, locale,
			coalesce(manager, ''), coalesce(delegate, ''), out_of_office
		FROM users WHERE username = $1`, username).
		Scan(&u.Username, &u.DisplayName, &u.Email, &u.Locale, &u.Manager, &u.Delegate, &u.OutOfOffice)
	if errors.Is(err, pgx.ErrNoRows) {
		return UserContact{}, ErrNotFound
	}
	return u, err
}

// UsernamesWithRole returns every user holding role, sorted by username.
func UsernamesWithRole(ctx context.Context, q Querier, role string) ([]string, error) {
	return UsernamesInGroups(ctx, q, []string{role})
}

// UsernamesInGroups returns the users holding at least one of the roles (candidate
// groups), each once, sorted by username.
func UsernamesInGroups(ctx context.Context, q Querier, groups []string) ([]string, error) {
	if len(groups) == 0 {
		return []string{}, nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT username FROM user_roles
		WHERE role = ANY($1) ORDER BY username`, groups)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if names == nil {
		names = []string{}
	}
	return names, err
}
