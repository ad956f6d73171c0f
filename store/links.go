package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// ErrExpired is returned when a customer link is past its expiry.
var ErrExpired = errors.New("expired")

// CustomerLink is a row of customer_links: a personal link through which a customer
// answers a process once. The token itself is never stored, only its SHA-256.
type CustomerLink struct {
	ID            string
	Key           string
	TokenHash     []byte
	Purpose       string
	Process       string
	ProcessID     string
	WorkflowID    string
	Round         int
	CustomerID    string
	CustomerEmail string
	CustomerName  string
	Locale        string
	Context       map[string]any
	AnswerUpdate  string
	Status        string // as stored; see StatusAt
	ExpiresAt     time.Time
	Answer        map[string]any
	AnsweredAt    *time.Time
	CreatedAt     time.Time
}

// StatusAt is the link's status at now: an open link past its expiry is expired even
// before the workflow has marked it so.
func (l CustomerLink) StatusAt(now time.Time) string {
	if l.Status == domain.LinkOpen && !now.Before(l.ExpiresAt) {
		return domain.LinkExpired
	}
	return l.Status
}

const linkColumns = `id, key, token_hash, purpose, process, process_id, workflow_id, round, customer_id,
	customer_email, customer_name, locale, context, answer_update, status, expires_at, answer, answered_at, created_at`

func scanLink(row pgx.Row) (CustomerLink, error) {
	var l CustomerLink
	err := row.Scan(&l.ID, &l.Key, &l.TokenHash, &l.Purpose, &l.Process, &l.ProcessID, &l.WorkflowID, &l.Round,
		&l.CustomerID, &l.CustomerEmail, &l.CustomerName, &l.Locale, &l.Context, &l.AnswerUpdate, &l.Status,
		&l.ExpiresAt, &l.Answer, &l.AnsweredAt, &l.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomerLink{}, ErrNotFound
	}
	if err != nil {
		return CustomerLink{}, err
	}
	l.ExpiresAt, l.CreatedAt, l.AnsweredAt = l.ExpiresAt.UTC(), l.CreatedAt.UTC(), utcOrNil(l.AnsweredAt)
	return l, nil
}

// CreateCustomerLink stores the link of in.Key with tokenHash unless that key has one
// already, and returns the stored link: a retried activity gets the row of its first
// attempt. created reports whether this call inserted it.
func CreateCustomerLink(ctx context.Context, q Querier, in domain.CreateLinkInput, tokenHash []byte) (l CustomerLink, created bool, err error) {
	tag, err := q.Exec(ctx, insertLinkSQL, insertLinkArgs(in, tokenHash)...)
	if err != nil {
		return CustomerLink{}, false, err
	}
	l, err = CustomerLinkByID(ctx, q, domain.LinkID(in.Key))
	return l, tag.RowsAffected() == 1, err
}

// CreateCustomerLinks stores many links in one round trip, each with its token hash,
// unless its key has one: a retried batch inserts nothing new.
func CreateCustomerLinks(ctx context.Context, s *Store, ins []domain.CreateLinkInput, tokenHashes [][]byte) error {
	return s.Pipeline(ctx, func(b *pgx.Batch) error {
		for i, in := range ins {
			b.Queue(insertLinkSQL, insertLinkArgs(in, tokenHashes[i])...)
		}
		return nil
	})
}

const insertLinkSQL = `INSERT INTO customer_links (id, key, token_hash, purpose, process, process_id, workflow_id,
		round, customer_id, customer_email, customer_name, locale, context, answer_update, expires_at, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
	ON CONFLICT (key) DO NOTHING`

func insertLinkArgs(in domain.CreateLinkInput, tokenHash []byte) []any {
	update := in.AnswerUpdate
	if update == "" {
		update = domain.UpdateLinkAnswer
	}
	ctxJSON := in.Context
	if ctxJSON == nil {
		ctxJSON = map[string]any{}
	}
	return []any{domain.LinkID(in.Key), in.Key, tokenHash, in.Purpose, in.Process, in.ProcessID, in.WorkflowID, in.Round,
		in.Customer.ID, in.Customer.Email, in.Customer.Name, in.Customer.Locale, ctxJSON, update,
		in.ExpiresAt.UTC(), in.At.UTC()}
}

// RetokenCustomerLink gives the unanswered link id a new token hash: for a link whose
// first e-mail never went out, so that no customer holds its old token. It reports
// ErrConflict when the link has been answered meanwhile.
func RetokenCustomerLink(ctx context.Context, q Querier, id string, tokenHash []byte) error {
	tag, err := q.Exec(ctx, `UPDATE customer_links SET token_hash = $2 WHERE id = $1 AND answered_at IS NULL`, id, tokenHash)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrConflict
	}
	return nil
}

// CustomerLinkByID returns one link or ErrNotFound.
func CustomerLinkByID(ctx context.Context, q Querier, id string) (CustomerLink, error) {
	return scanLink(q.QueryRow(ctx, `SELECT `+linkColumns+` FROM customer_links WHERE id = $1`, id))
}

// CustomerLinkByToken returns the link whose token hashes to the stored hash, or
// ErrNotFound.
func (s *Store) CustomerLinkByToken(ctx context.Context, token string) (CustomerLink, error) {
	return scanLink(s.Pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM customer_links WHERE token_hash = $1`,
		domain.HashToken(token)))
}

// RecordLinkAnswer stores the answer of a link exactly once, if it comes before the
// expiry: ErrConflict when the link was answered already, ErrExpired when at is not
// before its expiry (or the link was expired), ErrNotFound when there is no such link.
func RecordLinkAnswer(ctx context.Context, q Querier, id string, answer map[string]any, at time.Time) error {
	tag, err := q.Exec(ctx, `UPDATE customer_links SET status = 'answered', answer = $2, answered_at = $3
		WHERE id = $1 AND answered_at IS NULL AND status = 'open' AND expires_at > $3`, id, answer, at.UTC())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	l, err := CustomerLinkByID(ctx, q, id)
	switch {
	case err != nil:
		return err
	case l.AnsweredAt != nil:
		return ErrConflict
	default:
		return ErrExpired
	}
}

// ExpireCustomerLink marks a link that was not answered expired. It reports whether it
// did; an answered link stays answered.
func ExpireCustomerLink(ctx context.Context, q Querier, id string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE customer_links SET status = 'expired' WHERE id = $1 AND status = 'open'`, id)
	return tag.RowsAffected() == 1, err
}
