package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorCustomers pages the customer list by ID.
var CursorCustomers = cursorList("customers", false, false)

// Customer is a customer record.
type Customer struct {
	ID          string
	Name        string
	Email       string
	Locale      string
	Tier        string
	Owner       string // username of the owning sales rep
	CreditLimit domain.Money
	CreatedAt   time.Time
}

// CustomerInput creates a customer. ID is optional: empty gives a new cus_ id, a given
// id is upserted (so a seed can run again).
type CustomerInput struct {
	ID          string
	Name        string
	Email       string
	Locale      string
	Tier        string
	Owner       string
	CreditLimit domain.Money // zero value: 0 CNY
}

// CreateCustomer inserts (or, for a given id, updates) a customer.
func (s *Store) CreateCustomer(ctx context.Context, in CustomerInput) (Customer, error) {
	return InsertCustomer(ctx, s.Pool, in)
}

// InsertCustomer is CreateCustomer on any Querier (a transaction).
func InsertCustomer(ctx context.Context, q Querier, in CustomerInput) (Customer, error) {
	if in.ID == "" {
		in.ID = domain.NewID("cus")
	}
	if in.CreditLimit.Amount == "" {
		in.CreditLimit.Amount = "0"
	}
	if in.CreditLimit.Currency == "" {
		in.CreditLimit.Currency = "CNY"
	}
	amount, err := in.CreditLimit.Decimal()
	if err != nil {
		return Customer{}, fmt.Errorf("credit limit: %w", err)
	}
	return scanCustomer(q.QueryRow(ctx, `INSERT INTO customers AS c (id, name, email, locale, tier, owner, credit_limit_amount, credit_limit_currency)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, locale = EXCLUDED.locale,
			tier = EXCLUDED.tier, owner = EXCLUDED.owner, credit_limit_amount = EXCLUDED.credit_limit_amount,
			credit_limit_currency = EXCLUDED.credit_limit_currency
		RETURNING `+customerColumns,
		in.ID, in.Name, in.Email, in.Locale, in.Tier, in.Owner, amount, in.CreditLimit.Currency))
}

const customerColumns = `c.id, c.name, c.email, c.locale, c.tier, c.owner, c.credit_limit_amount::text, c.credit_limit_currency, c.created_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	var amount string
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Locale, &c.Tier, &c.Owner, &amount, &c.CreditLimit.Currency, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, ErrNotFound
	}
	if err != nil {
		return Customer{}, err
	}
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return Customer{}, err
	}
	c.CreditLimit = domain.NewMoney(d, c.CreditLimit.Currency)
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// CustomerByID returns a customer or ErrNotFound.
func (s *Store) CustomerByID(ctx context.Context, id string) (Customer, error) {
	return scanCustomer(s.Pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers c WHERE c.id = $1`, id))
}

// CustomerFilter selects customers; empty fields do not filter.
type CustomerFilter struct {
	Owner  string
	Tier   string
	Limit  int
	Cursor string
}

// ListCustomers returns customers in id (creation) order, with the cursor of the next
// page or "".
func (s *Store) ListCustomers(ctx context.Context, f CustomerFilter) ([]Customer, string, error) {
	cur, _, err := DecodeCursor(f.Cursor, CursorCustomers)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT `+customerColumns+` FROM customers c
		WHERE ($1 = '' OR c.owner = $1) AND ($2 = '' OR c.tier = $2) AND c.id > $3
		ORDER BY c.id LIMIT $4`, f.Owner, f.Tier, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(c Customer) Cursor { return Cursor{K: CursorCustomers, ID: c.ID} })
	return out, next, nil
}

// listLimit applies the default (50) and maximum (200) page size of every list.
func listLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 200:
		return 200
	}
	return n
}

// cutPage cuts a result fetched with limit+1 rows to limit and returns the cursor of the
// next page ("" when this is the last one).
func cutPage[T any](items []T, limit int, key func(T) Cursor) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, key(items[limit-1]).Encode()
}
