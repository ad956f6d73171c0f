package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorOrders pages the order list by id, newest first.
var CursorOrders = cursorList("orders", false, false)

// UpsertOrder inserts (first call) or replaces the order row from the workflow's state:
// status, total, state and updated_at. contract_id is NULL when the order has none.
func UpsertOrder(ctx context.Context, q Querier, st domain.OrderState, workflowID string) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	total, err := st.Total.Decimal()
	if err != nil {
		return fmt.Errorf("order %s total: %w", st.ID, err)
	}
	var contract *string
	if st.ContractID != "" {
		contract = &st.ContractID
	}
	_, err = q.Exec(ctx, `INSERT INTO orders (id, workflow_id, customer_id, contract_id, rep, status,
			total_amount, currency, state, entered_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10, now())
		ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, total_amount = EXCLUDED.total_amount,
			currency = EXCLUDED.currency, state = EXCLUDED.state, updated_at = now()`,
		st.ID, workflowID, st.CustomerID, contract, st.Rep, st.Status, total, st.Total.Currency, b, st.EnteredAt.UTC())
	return err
}

// OrderRow is an order as the API reads it.
type OrderRow struct {
	State      domain.OrderState
	WorkflowID string
}

// GetOrder returns an order, or ErrNotFound.
func (s *Store) GetOrder(ctx context.Context, id string) (OrderRow, error) {
	var r OrderRow
	err := s.Pool.QueryRow(ctx, `SELECT state, workflow_id FROM orders WHERE id = $1`, id).Scan(&r.State, &r.WorkflowID)
	if errors.Is(err, pgx.ErrNoRows) {
		return OrderRow{}, ErrNotFound
	}
	return r, err
}

// OrderFilter selects orders for a list; empty fields do not filter.
type OrderFilter struct {
	Status     string
	CustomerID string
	Rep        string
	Limit      int
	Cursor     string
}

// ListOrders lists orders newest (highest id) first, with the cursor of the next page
// or "".
func (s *Store) ListOrders(ctx context.Context, f OrderFilter) ([]domain.OrderState, string, error) {
	cur, has, err := DecodeCursor(f.Cursor, CursorOrders)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT state FROM orders
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR customer_id = $2) AND ($3 = '' OR rep = $3)
		  AND (NOT $4 OR id < $5)
		ORDER BY id DESC LIMIT $6`, f.Status, f.CustomerID, f.Rep, has, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[domain.OrderState])
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(st domain.OrderState) Cursor { return Cursor{K: CursorOrders, ID: st.ID} })
	return out, next, nil
}

// Errors of a payment that cannot be recorded; retrying it cannot help.
var (
	ErrOverpayment      = errors.New("payment exceeds the invoice's open amount")
	ErrInvoiceVoid      = errors.New("invoice is void")
	ErrCurrencyMismatch = errors.New("payment currency differs from the invoice's")
)

// invoiceColumns are the columns scanInvoice reads, from invoices aliased i.
const invoiceColumns = `i.number, i.kind, i.order_id, i.amount::text, i.paid::text, i.currency, i.issued_at,
	to_char(i.due_on, 'YYYY-MM-DD'), i.status, i.voided_at`

func scanInvoice(row pgx.Row, extra ...any) (domain.Invoice, error) {
	var inv domain.Invoice
	var amount, paid, currency string
	err := row.Scan(append([]any{&inv.Number, &inv.Kind, &inv.OrderID, &amount, &paid, &currency, &inv.IssuedAt,
		&inv.DueOn, &inv.Status, &inv.VoidedAt}, extra...)...)
	if err != nil {
		return domain.Invoice{}, err
	}
	a, err := decimal.NewFromString(amount)
	if err != nil {
		return domain.Invoice{}, err
	}
	p, err := decimal.NewFromString(paid)
	if err != nil {
		return domain.Invoice{}, err
	}
	fillInvoice(&inv, a, p, currency)
	inv.IssuedAt = inv.IssuedAt.UTC()
	if inv.VoidedAt != nil {
		t := inv.VoidedAt.UTC()
		inv.VoidedAt = &t
	}
	return inv, nil
}

// fillInvoice sets the money of an invoice: its amount, what was paid and what is open
// (amount − paid; nothing is open on a void invoice).
func fillInvoice(inv *domain.Invoice, amount, paid decimal.Decimal, currency string) {
	inv.Amount = money(amount, currency)
	inv.Paid = money(paid, currency)
	open := amount.Sub(paid)
	if inv.Status == domain.InvoiceVoid {
		open = decimal.Zero
	}
	inv.Open = money(open, currency)
}

// money formats an amount with two decimals, or four (the column's scale) when it has
// more than two, so that nothing is rounded away.
func money(d decimal.Decimal, currency string) domain.Money {
	if d.Equal(d.Round(2)) {
		return domain.NewMoney(d, currency)
	}
	return domain.Money{Amount: d.StringFixed(4), Currency: currency}
}

// optionalAmount parses m, the zero Money being 0; its currency, when set, must be cur.
func optionalAmount(m domain.Money, cur, what string) (decimal.Decimal, error) {
	if m.Amount == "" && m.Currency == "" {
		return decimal.Zero, nil
	}
	if m.Currency != cur {
		return decimal.Zero, fmt.Errorf("%s: %w", what, ErrCurrencyMismatch)
	}
	if err := m.Validate(); err != nil {
		return decimal.Zero, fmt.Errorf("%s: %w", what, err)
	}
	d, _ := m.Decimal()
	return d, nil
}

// invoiceByKey returns the invoice issued under key, or pgx.ErrNoRows.
func invoiceByKey(ctx context.Context, q Querier, key string) (domain.Invoice, error) {
	return scanInvoice(q.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices i WHERE i.key = $1`, key))
}

// IssueInvoice issues an invoice once per in.Key, in the caller's transaction: a retry
// returns the invoice already issued under the key. A new invoice takes the next number
// of the year of in.At (UTC), FP-<year>-<6 digits>. The year's counter row stays locked
// until the transaction ends, so concurrent issues queue and a rolled back transaction
// gives its number back: no gaps, no duplicates. It is paid when in.Paid covers
// in.Amount (a prepayment's invoice), else open. An empty in.DueOn is the day of in.At.
func IssueInvoice(ctx context.Context, tx pgx.Tx, in domain.IssueInvoiceInput) (domain.Invoice, error) {
	if in.Key == "" {
		return domain.Invoice{}, errors.New("an invoice needs an issue key")
	}
	inv, err := invoiceByKey(ctx, tx, in.Key)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return inv, err
	}
	if err := in.Amount.Validate(); err != nil {
		return domain.Invoice{}, fmt.Errorf("invoice amount: %w", err)
	}
	amount, _ := in.Amount.Decimal()
	paid, err := optionalAmount(in.Paid, in.Amount.Currency, "invoice paid amount")
	if err != nil {
		return domain.Invoice{}, err
	}
	at := in.At.UTC()
	due := in.DueOn
	if due == "" {
		due = at.Format(time.DateOnly)
	} else if _, err := time.Parse(time.DateOnly, due); err != nil {
		return domain.Invoice{}, fmt.Errorf("invoice due date %q: must be YYYY-MM-DD", due)
	}
	// Lock the year's counter (creating it at 0), then look for the key again: a
	// concurrent attempt with the same key that committed while this one waited for the
	// lock has issued the invoice, and this one must not take a second number.
	year := at.Year()
	var last int
	if err := tx.QueryRow(ctx, `INSERT INTO invoice_seq (year, last) VALUES ($1, 0)
		ON CONFLICT (year) DO UPDATE SET last = invoice_seq.last RETURNING last`, year).Scan(&last); err != nil {
		return domain.Invoice{}, err
	}
	inv, err = invoiceByKey(ctx, tx, in.Key)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return inv, err
	}
	if _, err := tx.Exec(ctx, `UPDATE invoice_seq SET last = $2 WHERE year = $1`, year, last+1); err != nil {
		return domain.Invoice{}, err
	}
	status := domain.InvoiceOpen
	if paid.GreaterThanOrEqual(amount) {
		status = domain.InvoicePaid
	}
	return scanInvoice(tx.QueryRow(ctx, `INSERT INTO invoices AS i (number, key, order_id, customer_id, kind,
			amount, paid, currency, issued_at, due_on, status)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::date,$11)
		RETURNING `+invoiceColumns,
		fmt.Sprintf("FP-%d-%06d", year, last+1), in.Key, in.OrderID, in.CustomerID, in.Kind,
		amount, paid, in.Amount.Currency, at, due, status))
}

// RecordOrderPayment stores a payment once per Payment.ID, in the caller's transaction.
// A payment (kind payment) raises the paid amount of its invoice, Payment.InvoiceNo of
// the order, which is paid once nothing is open, and returns the invoice; one that would
// exceed the open amount (ErrOverpayment), is in another currency (ErrCurrencyMismatch)
// or is for a void invoice (ErrInvoiceVoid) is refused. A prepayment is only stored (its
// invoice is issued with IssueInvoice) and gives the zero Invoice. A retry changes
// nothing and returns the invoice as it is.
func RecordOrderPayment(ctx context.Context, tx pgx.Tx, in domain.RecordOrderPaymentInput) (domain.Invoice, error) {
	p := in.Payment
	if p.ID == "" {
		return domain.Invoice{}, errors.New("a payment needs an id")
	}
	if err := p.Amount.Validate(); err != nil {
		return domain.Invoice{}, fmt.Errorf("payment amount: %w", err)
	}
	amount, _ := p.Amount.Decimal()
	if !amount.IsPositive() {
		return domain.Invoice{}, errors.New("payment amount must be greater than zero")
	}
	if _, err := time.Parse(time.DateOnly, p.ReceivedOn); err != nil {
		return domain.Invoice{}, fmt.Errorf("payment received_on %q: must be YYYY-MM-DD", p.ReceivedOn)
	}
	insert := func(invoiceNo *string) error {
		_, err := tx.Exec(ctx, `INSERT INTO order_payments (id, order_id, kind, invoice_no, amount, currency,
				received_on, reference, recorded_by, at)
			VALUES ($1,$2,$3,$4,$5,$6,$7::date,$8,$9,$10) ON CONFLICT (id) DO NOTHING`,
			p.ID, in.OrderID, p.Kind, invoiceNo, amount, p.Amount.Currency, p.ReceivedOn, p.Reference,
			p.RecordedBy, p.At.UTC())
		return err
	}
	switch p.Kind {
	case domain.PaymentKindPrepayment:
		return domain.Invoice{}, insert(nil)
	case domain.PaymentKindPayment:
	default:
		return domain.Invoice{}, fmt.Errorf("payment kind %q: must be payment or prepayment", p.Kind)
	}
	// The invoice's row lock queues the payments of one invoice, so that the check of
	// the open amount and the check for a retry hold until this transaction ends.
	inv, err := scanInvoice(tx.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices i
		WHERE i.number = $1 AND i.order_id = $2 FOR UPDATE`, p.InvoiceNo, in.OrderID))
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Invoice{}, fmt.Errorf("invoice %q of order %s: %w", p.InvoiceNo, in.OrderID, ErrNotFound)
	}
	if err != nil {
		return domain.Invoice{}, err
	}
	var seen bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM order_payments WHERE id = $1)`, p.ID).Scan(&seen); err != nil {
		return domain.Invoice{}, err
	}
	if seen {
		return inv, nil
	}
	switch open, _ := inv.Open.Decimal(); {
	case inv.Status == domain.InvoiceVoid:
		return domain.Invoice{}, fmt.Errorf("invoice %s: %w", inv.Number, ErrInvoiceVoid)
	case p.Amount.Currency != inv.Amount.Currency:
		return domain.Invoice{}, fmt.Errorf("payment in %s, invoice %s in %s: %w", p.Amount.Currency, inv.Number,
			inv.Amount.Currency, ErrCurrencyMismatch)
	case amount.GreaterThan(open):
		return domain.Invoice{}, fmt.Errorf("payment of %s %s, invoice %s has %s open: %w", p.Amount.Amount,
			p.Amount.Currency, inv.Number, inv.Open.Amount, ErrOverpayment)
	}
	if err := insert(&inv.Number); err != nil {
		return domain.Invoice{}, err
	}
	return scanInvoice(tx.QueryRow(ctx, `UPDATE invoices i SET paid = paid + $2,
			status = CASE WHEN paid + $2 >= amount THEN 'paid' ELSE status END
		WHERE number = $1 RETURNING `+invoiceColumns, inv.Number, amount))
}

// VoidInvoice voids an invoice (of in.OrderID, when set): it keeps its number, with
// status void, the time and the reason. Voiding a void invoice changes nothing
// (changed false). ErrNotFound when there is no such invoice.
func VoidInvoice(ctx context.Context, tx pgx.Tx, in domain.VoidInvoiceInput) (changed bool, err error) {
	tag, err := tx.Exec(ctx, `UPDATE invoices SET status = 'void', voided_at = $3, void_reason = $4
		WHERE number = $1 AND ($2 = '' OR order_id = $2) AND status <> 'void'`,
		in.Number, in.OrderID, in.At.UTC(), in.Reason)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invoices WHERE number = $1 AND ($2 = '' OR order_id = $2))`,
		in.Number, in.OrderID).Scan(&exists); err != nil {
		return false, err
	}
	if !exists {
		return false, fmt.Errorf("invoice %q: %w", in.Number, ErrNotFound)
	}
	return false, nil
}

// CursorInvoices pages an invoice list by number; CursorInvoicesDue the open and
// overdue invoices by due date, then number.
var (
	CursorInvoices    = cursorList("invoices", false, false)
	CursorInvoicesDue = cursorList("invoices_due", true, false)
)

// InvoicesCursor is the list an invoice list's cursor pages: open and overdue invoices
// are ordered by due date, the others by number.
func InvoicesCursor(status string) string {
	if status == domain.InvoiceOpen || status == domain.InvoiceOverdue {
		return CursorInvoicesDue
	}
	return CursorInvoices
}

// InvoiceFilter selects invoices; empty fields do not filter.
type InvoiceFilter struct {
	Status     string // "", open, overdue, paid, void
	CustomerID string
	Rep        string // the rep of the invoice's order
	Today      string // YYYY-MM-DD, what "overdue" compares due_on with ("": the server's date)
	Limit      int
	Cursor     string
}

// InvoiceRow is an invoice in a list, with its customer and the rep of its order.
type InvoiceRow struct {
	domain.Invoice
	CustomerID   string `json:"customer_id"`
	CustomerName string `json:"customer_name"`
	Rep          string `json:"rep"`
	DaysOverdue  int    `json:"days_overdue"` // days an open invoice is past its due date on Today
}

// ListInvoices lists invoices, with the cursor of the next page or "". Overdue ones are
// open with a due date before f.Today. Open and overdue invoices come oldest due first
// (then by number), the others by number.
func (s *Store) ListInvoices(ctx context.Context, f InvoiceFilter) ([]InvoiceRow, string, error) {
	switch f.Status {
	case "", domain.InvoiceOpen, domain.InvoiceOverdue, domain.InvoicePaid, domain.InvoiceVoid:
	default:
		return nil, "", fmt.Errorf("invoice status %q: must be open, overdue, paid or void", f.Status)
	}
	if f.Today != "" {
		if _, err := time.Parse(time.DateOnly, f.Today); err != nil {
			return nil, "", fmt.Errorf("today %q: must be YYYY-MM-DD", f.Today)
		}
	}
	list := InvoicesCursor(f.Status)
	cur, has, err := DecodeCursor(f.Cursor, list)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	status := f.Status
	if status == domain.InvoiceOverdue {
		status = domain.InvoiceOpen
	}
	after, order := `i.number > $7`, `i.number`
	if list == CursorInvoicesDue {
		after, order = `(i.due_on, i.number) > (p.after_due, $7)`, `i.due_on, i.number`
	}
	rows, err := s.Pool.Query(ctx, `WITH p AS (SELECT coalesce(nullif($4, '')::date, current_date) AS today, $6::date AS after_due)
		SELECT `+invoiceColumns+`, i.customer_id, c.name, o.rep,
			CASE WHEN i.status = 'open' AND i.due_on < p.today THEN p.today - i.due_on ELSE 0 END
		FROM invoices i JOIN orders o ON o.id = i.order_id JOIN customers c ON c.id = i.customer_id, p
		WHERE ($1 = '' OR i.status = $1) AND ($2 = '' OR i.customer_id = $2) AND ($3 = '' OR o.rep = $3)
		  AND (NOT $5 OR i.due_on < p.today) AND (NOT $8 OR `+after+`)
		ORDER BY `+order+` LIMIT $9`,
		status, f.CustomerID, f.Rep, f.Today, f.Status == domain.InvoiceOverdue, cur.T, cur.ID, has, limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []InvoiceRow{}
	for rows.Next() {
		var r InvoiceRow
		if r.Invoice, err = scanInvoice(rows, &r.CustomerID, &r.CustomerName, &r.Rep, &r.DaysOverdue); err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(r InvoiceRow) Cursor {
		c := Cursor{K: list, ID: r.Number}
		if list == CursorInvoicesDue {
			c.T, _ = time.Parse(time.DateOnly, r.DueOn)
		}
		return c
	})
	return out, next, nil
}

// InvoicesOfOrder returns an order's invoices (void ones too), in the order they were
// issued.
func (s *Store) InvoicesOfOrder(ctx context.Context, orderID string) ([]domain.Invoice, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+invoiceColumns+` FROM invoices i WHERE i.order_id = $1
		ORDER BY i.issued_at, i.number`, orderID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Invoice, error) { return scanInvoice(r) })
}

// PaymentsOfOrder returns the payments and prepayments recorded for an order, by the
// time they were recorded.
func (s *Store) PaymentsOfOrder(ctx context.Context, orderID string) ([]domain.Payment, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, kind, amount::text, currency, to_char(received_on, 'YYYY-MM-DD'),
			reference, recorded_by, coalesce(invoice_no, ''), at
		FROM order_payments WHERE order_id = $1 ORDER BY at, id`, orderID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Payment, error) {
		var p domain.Payment
		var amount string
		if err := r.Scan(&p.ID, &p.Kind, &amount, &p.Amount.Currency, &p.ReceivedOn, &p.Reference, &p.RecordedBy,
			&p.InvoiceNo, &p.At); err != nil {
			return p, err
		}
		d, err := decimal.NewFromString(amount)
		if err != nil {
			return p, err
		}
		p.Amount = money(d, p.Amount.Currency)
		p.At = p.At.UTC()
		return p, nil
	})
}

// CreditExposure sums, per currency, a customer's open receivables (amount − paid of
// its open invoices) and the totals of its open orders not yet invoiced (status in
// domain.OrderOpen), leaving out excludeOrderID (the order being checked).
func (s *Store) CreditExposure(ctx context.Context, customerID, excludeOrderID string) (openInvoices, openOrders map[string]decimal.Decimal, err error) {
	sums := func(sql string, args ...any) (map[string]decimal.Decimal, error) {
		rows, err := s.Pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]decimal.Decimal{}
		for rows.Next() {
			var cur, sum string
			if err := rows.Scan(&cur, &sum); err != nil {
				return nil, err
			}
			d, err := decimal.NewFromString(sum)
			if err != nil {
				return nil, err
			}
			out[cur] = d
		}
		return out, rows.Err()
	}
	openInvoices, err = sums(`SELECT currency, sum(amount - paid)::text FROM invoices
		WHERE customer_id = $1 AND status = 'open' GROUP BY currency`, customerID)
	if err != nil {
		return nil, nil, err
	}
	openOrders, err = sums(`SELECT currency, sum(total_amount)::text FROM orders
		WHERE customer_id = $1 AND status = ANY($2) AND id <> $3 GROUP BY currency`,
		customerID, domain.OrderOpen, excludeOrderID)
	if err != nil {
		return nil, nil, err
	}
	return openInvoices, openOrders, nil
}

// ContractBudget is what a contract allows orders to draw: its amount, and what its
// orders not cancelled or lapsed already total.
type ContractBudget struct {
	CustomerID string
	Status     string
	Amount     domain.Money
	Ordered    decimal.Decimal
}

// ContractRemaining locks the contract's row until the caller's transaction ends, so
// that concurrent orders against one contract queue, and returns its customer, status,
// amount (of the version in force) and the sum of the totals of its orders that were not
// cancelled or lapsed. The orders are summed as they are: the caller checks that an
// order is in the contract's currency. ErrNotFound when there is no such contract.
func ContractRemaining(ctx context.Context, tx pgx.Tx, contractID string) (ContractBudget, error) {
	var b ContractBudget
	var amount string
	err := tx.QueryRow(ctx, `SELECT customer_id, status, amount::text, currency FROM contracts WHERE id = $1 FOR UPDATE`,
		contractID).Scan(&b.CustomerID, &b.Status, &amount, &b.Amount.Currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return ContractBudget{}, ErrNotFound
	}
	if err != nil {
		return ContractBudget{}, err
	}
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return ContractBudget{}, err
	}
	b.Amount = money(d, b.Amount.Currency)
	var ordered string
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(total_amount), 0)::text FROM orders
		WHERE contract_id = $1 AND status <> ALL($2)`, contractID, []string{domain.OrderCancelled, domain.OrderLapsed}).Scan(&ordered); err != nil {
		return ContractBudget{}, err
	}
	if b.Ordered, err = decimal.NewFromString(ordered); err != nil {
		return ContractBudget{}, err
	}
	return b, nil
}
