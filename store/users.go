package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve on hosts without a zoneinfo database

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// User is a person with their roles (which are also their task candidate groups).
type User struct {
	ID          string
	Username    string
	DisplayName string
	Email       string
	Locale      string
	TimeZone    string // an IANA time zone name ("UTC" unless set)
	Roles       []domain.Role
	Manager     string // escalation target; "" when none
	Delegate    string // out-of-office delegate; "" when none
	OutOfOffice bool
}

// HasRole reports whether the user has any of roles.
func (u User) HasRole(roles ...domain.Role) bool { return domain.HasAny(u.Roles, roles...) }

// RoleNames returns the roles as strings (for candidate-group comparisons).
func (u User) RoleNames() []string {
	out := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = string(r)
	}
	return out
}

// UserInput creates or updates a user (CreateUser).
type UserInput struct {
	Username    string
	DisplayName string
	Email       string
	Locale      string   // "en" for a new user when empty; an existing one keeps theirs
	TimeZone    string   // an IANA time zone name; as Locale, "UTC" when empty
	Roles       []string // role names (domain.Role values)
	Manager     string   // must already exist
	Delegate    string   // must already exist
	OutOfOffice bool
}

// CreateUser inserts a user, or updates the existing user of that username (its profile,
// manager, delegate and exactly the given roles), so seeding can run any number of
// times. A manager or delegate must exist first: seed managers before their reports.
func (s *Store) CreateUser(ctx context.Context, in UserInput) error {
	in.Username = strings.TrimSpace(in.Username)
	if in.Username == "" {
		return errors.New("username is required")
	}
	if in.Locale != "" && !domain.In(in.Locale, domain.Locales) {
		return fmt.Errorf("unknown locale %q", in.Locale)
	}
	if _, err := time.LoadLocation(in.TimeZone); in.TimeZone != "" && err != nil {
		return fmt.Errorf("unknown time zone %q", in.TimeZone)
	}
	roles := make([]string, 0, len(in.Roles))
	for _, r := range in.Roles {
		if !domain.ValidRole(r) {
			return fmt.Errorf("unknown role %q", r)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Username
	}
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		// A new user without a locale or time zone gets en and UTC; an existing one keeps
		// theirs (which they may have switched) unless one is given.
		_, err := tx.Exec(ctx, `INSERT INTO users (id, username, display_name, email, locale, manager, delegate, out_of_office, time_zone)
			VALUES ($1, $2, $3, $4, COALESCE($5, 'en'), $6, $7, $8, COALESCE($9, 'UTC'))
			ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name,
				email = EXCLUDED.email, locale = COALESCE($5, users.locale), manager = EXCLUDED.manager,
				delegate = EXCLUDED.delegate, out_of_office = EXCLUDED.out_of_office, time_zone = COALESCE($9, users.time_zone)`,
			domain.NewID("usr"), in.Username, in.DisplayName, in.Email, optText(in.Locale),
			optText(in.Manager), optText(in.Delegate), in.OutOfOffice, optText(in.TimeZone))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE username = $1 AND NOT (role = ANY($2))`, in.Username, roles); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO user_roles (username, role) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, in.Username, roles)
		return err
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", in.Username, err)
	}
	return nil
}

const userColumns = `u.id, u.username, u.display_name, u.email, u.locale, u.time_zone, COALESCE(u.manager, ''),
	COALESCE(u.delegate, ''), u.out_of_office,
	COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM user_roles r WHERE r.username = u.username), '{}')`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var roles []string
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Locale, &u.TimeZone, &u.Manager, &u.Delegate, &u.OutOfOffice, &roles)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	for _, r := range roles {
		u.Roles = append(u.Roles, domain.Role(r))
	}
	return u, nil
}

// SetPreferences sets the language (one of domain.Locales) and the time zone (an IANA
// name) of username's pages and e-mails.
func (s *Store) SetPreferences(ctx context.Context, username, locale, timeZone string) error {
	if !domain.In(locale, domain.Locales) {
		return fmt.Errorf("unknown locale %q", locale)
	}
	if _, err := time.LoadLocation(timeZone); err != nil {
		return fmt.Errorf("unknown time zone %q", timeZone)
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE users SET locale = $2, time_zone = $3 WHERE username = $1`, username, locale, timeZone)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return err
}

// UserByUsername returns one user with their roles, or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	return scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.username = $1`, username))
}

// CreateToken issues a new bearer token for username and stores only its hash. The
// token itself is returned once and cannot be recovered.
func (s *Store) CreateToken(ctx context.Context, username, label string) (string, error) {
	token := domain.NewToken()
	_, err := s.Pool.Exec(ctx, `INSERT INTO tokens (token_hash, username, label) VALUES ($1, $2, $3)`,
		domain.HashToken(token), username, label)
	if err != nil {
		return "", fmt.Errorf("create token for %s: %w", username, err)
	}
	return token, nil
}

// RevokeToken revokes a token; ErrNotFound when it is unknown or already revoked.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`,
		domain.HashToken(token))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// UserByToken authenticates a bearer token: the user of a token that exists and is not
// revoked, or ErrNotFound.
func (s *Store) UserByToken(ctx context.Context, token string) (User, error) {
	return scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM tokens t JOIN users u ON u.username = t.username
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL`, domain.HashToken(token)))
}

// optText maps "" to SQL NULL.
func optText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
