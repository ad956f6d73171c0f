package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// seedOrderParties adds the reps alice and bob and their customers cus_1 (alice's) and
// cus_2 (bob's).
func seedOrderParties(t *testing.T, s *store.Store) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO users (id, username, display_name, email) VALUES ('usr_a', 'alice', 'Alice', 'alice@example.com'),
			('usr_b', 'bob', 'Bob', 'bob@example.com')`,
		`INSERT INTO customers (id, name, email, locale, tier, owner) VALUES ('cus_1', 'Northwind', 'n@example.com', 'en', 'A', 'alice'),
			('cus_2', 'Contoso', 'c@example.com', 'en', 'D', 'bob')`,
	} {
		if _, err := s.Pool.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

var orderT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func orderState(id, customer, rep, status, total, currency string) domain.OrderState {
	return domain.OrderState{
		ID: id, CustomerID: customer, CustomerName: "Customer " + customer, Rep: rep, Status: status,
		Lines:                 []domain.OrderLine{{SKU: "LATHE-1", Description: "Lathe", Quantity: 1, UnitPrice: domain.Money{Amount: total, Currency: currency}}},
		Total:                 domain.Money{Amount: total, Currency: currency},
		RequestedDeliveryDate: "2026-04-01", PaymentTerms: domain.PaymentTerms{NetDays: 30},
		Delivery: domain.Delivery{Method: domain.DeliveryPickup}, EnteredAt: orderT0,
	}
}

func upsertOrder(t *testing.T, s *store.Store, st domain.OrderState) {
	t.Helper()
	if err := store.UpsertOrder(context.Background(), s.Pool, st, domain.OrderWorkflowID(st.ID)); err != nil {
		t.Fatal(err)
	}
}

func cny(amount string) domain.Money { return domain.Money{Amount: amount, Currency: "CNY"} }

func issue(t *testing.T, s *store.Store, in domain.IssueInvoiceInput) domain.Invoice {
	t.Helper()
	var inv domain.Invoice
	if err := s.WithTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		inv, err = store.IssueInvoice(context.Background(), tx, in)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return inv
}

func finalInvoice(key, order, customer, amount, due string) domain.IssueInvoiceInput {
	return domain.IssueInvoiceInput{Key: key, OrderID: order, CustomerID: customer, Kind: domain.InvoiceFinal,
		Amount: cny(amount), DueOn: due, At: orderT0}
}

func pay(s *store.Store, order, id, invoiceNo, amount string) (domain.Invoice, error) {
	var inv domain.Invoice
	err := s.WithTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		inv, err = store.RecordOrderPayment(context.Background(), tx, domain.RecordOrderPaymentInput{
			OrderID: order, CustomerID: "cus_1",
			Payment: domain.Payment{ID: id, Kind: domain.PaymentKindPayment, Amount: cny(amount), ReceivedOn: "2026-03-20",
				Reference: "bank " + id, RecordedBy: "fiona", InvoiceNo: invoiceNo, At: orderT0.Add(time.Hour)},
		})
		return err
	})
	return inv, err
}

func TestOrderRowRoundTripAndList(t *testing.T) {
	s := storetest.New(t, "orders")
	seedOrderParties(t, s)
	ctx := context.Background()
	for i := range 5 {
		rep, cus := "alice", "cus_1"
		if i%2 == 1 {
			rep, cus = "bob", "cus_2"
		}
		upsertOrder(t, s, orderState(fmt.Sprintf("ord_%02d", i), cus, rep, domain.OrderInReview, "100.00", "CNY"))
	}
	st := orderState("ord_00", "cus_1", "alice", domain.OrderInProduction, "250.50", "CNY")
	st.PlannedDate = "2026-03-20"
	upsertOrder(t, s, st)
	got, err := s.GetOrder(ctx, "ord_00")
	if err != nil || got.WorkflowID != "order/ord_00" || got.State.Status != domain.OrderInProduction || got.State.PlannedDate != "2026-03-20" {
		t.Fatalf("GetOrder: %+v %v", got, err)
	}
	var total string
	var contract *string
	if err := s.Pool.QueryRow(ctx, `SELECT total_amount::text, contract_id FROM orders WHERE id = 'ord_00'`).Scan(&total, &contract); err != nil || total != "250.5000" || contract != nil {
		t.Fatalf("row: total %s contract %v %v", total, contract, err)
	}
	if _, err := s.GetOrder(ctx, "ord_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing order: %v", err)
	}

	page, next, err := s.ListOrders(ctx, store.OrderFilter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != "ord_04" || page[1].ID != "ord_03" || next == "" {
		t.Fatalf("page 1: %+v %q %v", page, next, err)
	}
	page, next, err = s.ListOrders(ctx, store.OrderFilter{Limit: 2, Cursor: next})
	if err != nil || len(page) != 2 || page[0].ID != "ord_02" || next == "" {
		t.Fatalf("page 2: %+v %q %v", page, next, err)
	}
	page, next, err = s.ListOrders(ctx, store.OrderFilter{Limit: 2, Cursor: next})
	if err != nil || len(page) != 1 || page[0].ID != "ord_00" || next != "" {
		t.Fatalf("page 3: %+v %q %v", page, next, err)
	}
	page, _, err = s.ListOrders(ctx, store.OrderFilter{Rep: "bob"})
	if err != nil || len(page) != 2 || page[0].ID != "ord_03" {
		t.Fatalf("bob's orders: %+v %v", page, err)
	}
	page, _, err = s.ListOrders(ctx, store.OrderFilter{Status: domain.OrderInProduction, CustomerID: "cus_1"})
	if err != nil || len(page) != 1 || page[0].ID != "ord_00" {
		t.Fatalf("in production: %+v %v", page, err)
	}
	if _, _, err := s.ListOrders(ctx, store.OrderFilter{Cursor: store.Cursor{K: store.CursorContracts, ID: "x"}.Encode()}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("the order list took a contract cursor: %v", err)
	}
}

func TestIssueInvoiceConcurrentNumbersAreConsecutive(t *testing.T) {
	s := storetest.New(t, "invseq")
	seedOrderParties(t, s)
	upsertOrder(t, s, orderState("ord_1", "cus_1", "alice", domain.OrderDelivered, "100.00", "CNY"))
	ctx := context.Background()
	const n = 50
	nos := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.WithTx(ctx, func(tx pgx.Tx) error {
				inv, err := store.IssueInvoice(ctx, tx, finalInvoice(fmt.Sprintf("k%02d", i), "ord_1", "cus_1", "100.00", "2026-04-01"))
				nos[i] = inv.Number
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	first07 := nos[7]
	sort.Strings(nos)
	for i, no := range nos {
		if want := fmt.Sprintf("FP-2026-%06d", i+1); no != want {
			t.Fatalf("invoice numbers not consecutive: position %d is %s, want %s (all: %v)", i, no, want, nos)
		}
	}
	// A retried key returns the invoice already issued.
	if again := issue(t, s, finalInvoice("k07", "ord_1", "cus_1", "100.00", "2026-04-01")); again.Number != first07 {
		t.Fatalf("a retry of k07 gave %s, want %s", again.Number, first07)
	}
	// A rolled-back issue gives its number back.
	_ = s.WithTx(ctx, func(tx pgx.Tx) error {
		inv, err := store.IssueInvoice(ctx, tx, finalInvoice("rolled", "ord_1", "cus_1", "100.00", "2026-04-01"))
		if err != nil || inv.Number != "FP-2026-000051" {
			t.Errorf("issue to roll back: %+v %v", inv, err)
		}
		return errors.New("roll back")
	})
	if inv := issue(t, s, finalInvoice("next", "ord_1", "cus_1", "100.00", "2026-04-01")); inv.Number != "FP-2026-000051" {
		t.Fatalf("after a rollback the next number is %s, want FP-2026-000051", inv.Number)
	}
	// Another year has its own sequence.
	in := finalInvoice("2027", "ord_1", "cus_1", "100.00", "2027-02-01")
	in.At = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if inv := issue(t, s, in); inv.Number != "FP-2027-000001" {
		t.Fatalf("first number of 2027: %s", inv.Number)
	}
	var count int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM invoices`).Scan(&count); err != nil || count != 52 {
		t.Fatalf("%d invoices, want 52: %v", count, err)
	}
}

// Two attempts with one key at once (a retry while the first still runs) issue one
// invoice: the second waits for the counter and then finds the first's invoice.
func TestIssueInvoiceSameKeyConcurrently(t *testing.T) {
	s := storetest.New(t, "invkey")
	seedOrderParties(t, s)
	upsertOrder(t, s, orderState("ord_1", "cus_1", "alice", domain.OrderDelivered, "100.00", "CNY"))
	ctx := context.Background()
	var wg sync.WaitGroup
	nos := make([]string, 10)
	errs := make([]error, 10)
	for i := range nos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.WithTx(ctx, func(tx pgx.Tx) error {
				inv, err := store.IssueInvoice(ctx, tx, finalInvoice("same", "ord_1", "cus_1", "100.00", "2026-04-01"))
				nos[i] = inv.Number
				return err
			})
		}()
	}
	wg.Wait()
	for i := range nos {
		if errs[i] != nil || nos[i] != "FP-2026-000001" {
			t.Fatalf("attempt %d: %s %v", i, nos[i], errs[i])
		}
	}
}

func TestInvoicePayments(t *testing.T) {
	s := storetest.New(t, "invpay")
	seedOrderParties(t, s)
	upsertOrder(t, s, orderState("ord_1", "cus_1", "alice", domain.OrderInvoiced, "1000.00", "CNY"))
	upsertOrder(t, s, orderState("ord_2", "cus_1", "alice", domain.OrderInvoiced, "10.00", "CNY"))
	ctx := context.Background()
	inv := issue(t, s, finalInvoice("ord_1/final", "ord_1", "cus_1", "1000.00", "2026-04-01"))
	if inv.Status != domain.InvoiceOpen || inv.Open != cny("1000.00") || inv.Paid != cny("0.00") || inv.DueOn != "2026-04-01" ||
		inv.Kind != domain.InvoiceFinal || !inv.IssuedAt.Equal(orderT0) || inv.VoidedAt != nil {
		t.Fatalf("issued: %+v", inv)
	}
	got, err := pay(s, "ord_1", "pay_1", inv.Number, "400.25")
	if err != nil || got.Status != domain.InvoiceOpen || got.Paid != cny("400.25") || got.Open != cny("599.75") {
		t.Fatalf("partial payment: %+v %v", got, err)
	}
	// A retry of pay_1 changes nothing, even with another amount.
	got, err = pay(s, "ord_1", "pay_1", inv.Number, "400.25")
	if err != nil || got.Paid != cny("400.25") {
		t.Fatalf("retried payment: %+v %v", got, err)
	}
	if _, err := pay(s, "ord_1", "pay_2", inv.Number, "599.76"); !errors.Is(err, store.ErrOverpayment) {
		t.Fatalf("over-payment: %v", err)
	}
	if _, err := pay(s, "ord_2", "pay_2", inv.Number, "1.00"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("payment against another order's invoice: %v", err)
	}
	err = s.WithTx(ctx, func(tx pgx.Tx) error {
		_, err := store.RecordOrderPayment(ctx, tx, domain.RecordOrderPaymentInput{OrderID: "ord_1",
			Payment: domain.Payment{ID: "pay_usd", Kind: domain.PaymentKindPayment, Amount: domain.Money{Amount: "1.00", Currency: "USD"},
				ReceivedOn: "2026-03-20", Reference: "x", InvoiceNo: inv.Number, At: orderT0}})
		return err
	})
	if !errors.Is(err, store.ErrCurrencyMismatch) {
		t.Fatalf("payment in USD: %v", err)
	}
	got, err = pay(s, "ord_1", "pay_2", inv.Number, "599.75")
	if err != nil || got.Status != domain.InvoicePaid || got.Paid != cny("1000.00") || got.Open != cny("0.00") {
		t.Fatalf("full payment: %+v %v", got, err)
	}
	// A retry of the first payment after the invoice is paid is no over-payment.
	if got, err = pay(s, "ord_1", "pay_1", inv.Number, "400.25"); err != nil || got.Status != domain.InvoicePaid {
		t.Fatalf("retry after paid: %+v %v", got, err)
	}
	if _, err := pay(s, "ord_1", "pay_3", inv.Number, "0.01"); !errors.Is(err, store.ErrOverpayment) {
		t.Fatalf("payment of a paid invoice: %v", err)
	}
	// A prepayment is stored once and gives no invoice.
	for range 2 {
		err := s.WithTx(ctx, func(tx pgx.Tx) error {
			got, err := store.RecordOrderPayment(ctx, tx, domain.RecordOrderPaymentInput{OrderID: "ord_1", CustomerID: "cus_1",
				Payment: domain.Payment{ID: "pre_1", Kind: domain.PaymentKindPrepayment, Amount: cny("50"), ReceivedOn: "2026-03-01",
					Reference: "pre", RecordedBy: "fiona", At: orderT0.Add(-time.Hour)}})
			if got != (domain.Invoice{}) {
				t.Errorf("a prepayment returned an invoice: %+v", got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	payments, err := s.PaymentsOfOrder(ctx, "ord_1")
	if err != nil || len(payments) != 3 {
		t.Fatalf("payments: %+v %v", payments, err)
	}
	if p := payments[0]; p.ID != "pre_1" || p.Kind != domain.PaymentKindPrepayment || p.Amount != cny("50.00") || p.InvoiceNo != "" ||
		p.ReceivedOn != "2026-03-01" || !p.At.Equal(orderT0.Add(-time.Hour)) {
		t.Fatalf("prepayment: %+v", p)
	}
	if p := payments[1]; p.ID != "pay_1" || p.InvoiceNo != inv.Number || p.Amount != cny("400.25") || p.RecordedBy != "fiona" || p.Reference != "bank pay_1" {
		t.Fatalf("first payment: %+v", p)
	}

	// Void: once, the number stays; a void invoice takes no payment.
	inv2 := issue(t, s, finalInvoice("ord_2/final", "ord_2", "cus_1", "10.00", "2026-04-01"))
	for i, want := range []bool{true, false} {
		var changed bool
		err := s.WithTx(ctx, func(tx pgx.Tx) error {
			var err error
			changed, err = store.VoidInvoice(ctx, tx, domain.VoidInvoiceInput{Number: inv2.Number, OrderID: "ord_2",
				Reason: "cancelled", At: orderT0.Add(time.Duration(i+1) * time.Hour)})
			return err
		})
		if err != nil || changed != want {
			t.Fatalf("void %d: changed %v, want %v: %v", i, changed, want, err)
		}
	}
	if _, err := pay(s, "ord_2", "pay_v", inv2.Number, "1.00"); !errors.Is(err, store.ErrInvoiceVoid) {
		t.Fatalf("payment of a void invoice: %v", err)
	}
	invs, err := s.InvoicesOfOrder(ctx, "ord_2")
	if err != nil || len(invs) != 1 || invs[0].Number != inv2.Number || invs[0].Status != domain.InvoiceVoid ||
		invs[0].VoidedAt == nil || !invs[0].VoidedAt.Equal(orderT0.Add(time.Hour)) || invs[0].Open != cny("0.00") {
		t.Fatalf("voided invoice: %+v %v", invs, err)
	}
	var reason string
	if err := s.Pool.QueryRow(ctx, `SELECT void_reason FROM invoices WHERE number = $1`, inv2.Number).Scan(&reason); err != nil || reason != "cancelled" {
		t.Fatalf("void reason %q: %v", reason, err)
	}
	err = s.WithTx(ctx, func(tx pgx.Tx) error {
		_, err := store.VoidInvoice(ctx, tx, domain.VoidInvoiceInput{Number: "FP-2026-999999", Reason: "x", At: orderT0})
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("void of a missing invoice: %v", err)
	}

	// A prepayment's invoice is issued paid.
	pre := issue(t, s, domain.IssueInvoiceInput{Key: "ord_1/pre_1", OrderID: "ord_1", CustomerID: "cus_1", Kind: domain.InvoicePrepayment,
		Amount: cny("50"), Paid: cny("50"), At: orderT0})
	if pre.Status != domain.InvoicePaid || pre.Open != cny("0.00") || pre.DueOn != "2026-03-02" || pre.Number != "FP-2026-000003" {
		t.Fatalf("prepayment invoice: %+v", pre)
	}
	if invs, err := s.InvoicesOfOrder(ctx, "ord_1"); err != nil || len(invs) != 2 || invs[0].Number != inv.Number {
		t.Fatalf("invoices of ord_1: %+v %v", invs, err)
	}
}

func TestListInvoicesOverdueAndPaging(t *testing.T) {
	s := storetest.New(t, "invlist")
	seedOrderParties(t, s)
	ctx := context.Background()
	upsertOrder(t, s, orderState("ord_a", "cus_1", "alice", domain.OrderInvoiced, "100.00", "CNY"))
	upsertOrder(t, s, orderState("ord_b", "cus_2", "bob", domain.OrderInvoiced, "100.00", "CNY"))
	// Issued in this order: FP-…1 due 03-10 (alice), …2 due 03-01 (bob), …3 due 03-10
	// (bob), …4 due 04-30 (alice), …5 due 02-01 (alice, paid), …6 due 02-15 (bob, void).
	dues := []struct{ order, customer, due string }{
		{"ord_a", "cus_1", "2026-03-10"}, {"ord_b", "cus_2", "2026-03-01"}, {"ord_b", "cus_2", "2026-03-10"},
		{"ord_a", "cus_1", "2026-04-30"}, {"ord_a", "cus_1", "2026-02-01"}, {"ord_b", "cus_2", "2026-02-15"},
	}
	var nos []string
	for i, d := range dues {
		nos = append(nos, issue(t, s, finalInvoice(fmt.Sprintf("k%d", i), d.order, d.customer, "100.00", d.due)).Number)
	}
	if _, err := pay(s, "ord_a", "pay_1", nos[4], "100.00"); err != nil {
		t.Fatal(err)
	}
	if err := s.WithTx(ctx, func(tx pgx.Tx) error {
		_, err := store.VoidInvoice(ctx, tx, domain.VoidInvoiceInput{Number: nos[5], Reason: "x", At: orderT0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	numbers := func(rows []store.InvoiceRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Number)
		}
		return out
	}
	list := func(f store.InvoiceFilter) ([]store.InvoiceRow, string) {
		t.Helper()
		rows, next, err := s.ListInvoices(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return rows, next
	}
	today := "2026-03-10"
	// On the due date an invoice is not overdue yet.
	rows, next := list(store.InvoiceFilter{Status: domain.InvoiceOverdue, Today: today, Limit: 1})
	if fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[1]}) || next != "" {
		t.Fatalf("overdue on %s: %v %q", today, numbers(rows), next)
	}
	if r := rows[0]; r.DaysOverdue != 9 || r.CustomerID != "cus_2" || r.CustomerName != "Contoso" || r.Rep != "bob" || r.Open != cny("100.00") {
		t.Fatalf("overdue row: %+v", r)
	}
	// Open: oldest due first, then by number, over three pages.
	var all []string
	next = ""
	for page := 0; ; page++ {
		rows, n := list(store.InvoiceFilter{Status: domain.InvoiceOpen, Today: today, Limit: 2, Cursor: next})
		all = append(all, numbers(rows)...)
		if next = n; next == "" || page > 5 {
			break
		}
	}
	if want := []string{nos[1], nos[0], nos[2], nos[3]}; fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("open invoices: %v, want %v", all, want)
	}
	// Two days later three are overdue, oldest due first, paged two at a time; one of
	// them is alice's.
	rows, next = list(store.InvoiceFilter{Status: domain.InvoiceOverdue, Today: "2026-03-12", Limit: 2})
	if fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[1], nos[0]}) || rows[1].DaysOverdue != 2 || next == "" {
		t.Fatalf("overdue on 03-12, page 1: %+v %q", rows, next)
	}
	rows, next = list(store.InvoiceFilter{Status: domain.InvoiceOverdue, Today: "2026-03-12", Limit: 2, Cursor: next})
	if fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[2]}) || rows[0].DaysOverdue != 2 || next != "" {
		t.Fatalf("overdue on 03-12, page 2: %+v %q", rows, next)
	}
	rows, _ = list(store.InvoiceFilter{Status: domain.InvoiceOverdue, Today: "2026-03-12", Rep: "alice"})
	if fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[0]}) {
		t.Fatalf("alice's overdue: %v", numbers(rows))
	}
	rows, _ = list(store.InvoiceFilter{Status: domain.InvoiceOpen, CustomerID: "cus_2"})
	if fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[1], nos[2]}) {
		t.Fatalf("cus_2's open: %v", numbers(rows))
	}
	if rows, _ = list(store.InvoiceFilter{Status: domain.InvoicePaid}); fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[4]}) || rows[0].DaysOverdue != 0 {
		t.Fatalf("paid: %+v", rows)
	}
	if rows, _ = list(store.InvoiceFilter{Status: domain.InvoiceVoid}); fmt.Sprint(numbers(rows)) != fmt.Sprint([]string{nos[5]}) {
		t.Fatalf("void: %v", numbers(rows))
	}
	// Every invoice by number, paged.
	rows, next = list(store.InvoiceFilter{Limit: 4})
	if fmt.Sprint(numbers(rows)) != fmt.Sprint(nos[:4]) || next == "" {
		t.Fatalf("all, page 1: %v %q", numbers(rows), next)
	}
	rows2, next2 := list(store.InvoiceFilter{Limit: 4, Cursor: next})
	if fmt.Sprint(numbers(rows2)) != fmt.Sprint(nos[4:]) || next2 != "" {
		t.Fatalf("all, page 2: %v %q", numbers(rows2), next2)
	}
	// A cursor only pages the list that issued it.
	if _, _, err := s.ListInvoices(ctx, store.InvoiceFilter{Status: domain.InvoiceOverdue, Today: today, Cursor: next}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("the overdue list took a cursor of the full list: %v", err)
	}
	if _, _, err := s.ListInvoices(ctx, store.InvoiceFilter{Status: "late"}); err == nil {
		t.Fatalf("an unknown status was accepted")
	}
}

func TestCreditExposure(t *testing.T) {
	s := storetest.New(t, "credit")
	seedOrderParties(t, s)
	ctx := context.Background()
	for _, o := range []struct{ id, status, total, cur string }{
		{"ord_1", domain.OrderInReview, "100.00", "CNY"},     // this order: left out
		{"ord_2", domain.OrderInProduction, "200.00", "CNY"}, // open
		{"ord_3", domain.OrderDelivered, "30.00", "USD"},     // open
		{"ord_4", domain.OrderInvoiced, "400.00", "CNY"},     // invoiced: its invoice counts
		{"ord_5", domain.OrderCancelled, "500.00", "CNY"},    // ended
		{"ord_6", domain.OrderPaid, "600.00", "CNY"},         // paid
	} {
		upsertOrder(t, s, orderState(o.id, "cus_1", "alice", o.status, o.total, o.cur))
	}
	upsertOrder(t, s, orderState("ord_x", "cus_2", "bob", domain.OrderInProduction, "999.00", "CNY"))
	inv := issue(t, s, finalInvoice("ord_4/final", "ord_4", "cus_1", "400.00", "2026-04-01"))
	if _, err := pay(s, "ord_4", "pay_1", inv.Number, "150.50"); err != nil {
		t.Fatal(err)
	}
	usd := finalInvoice("ord_3/final", "ord_3", "cus_1", "", "2026-04-01")
	usd.Amount = domain.Money{Amount: "30.00", Currency: "USD"}
	issue(t, s, usd)
	paid := issue(t, s, finalInvoice("ord_6/final", "ord_6", "cus_1", "600.00", "2026-04-01"))
	if _, err := pay(s, "ord_6", "pay_6", paid.Number, "600.00"); err != nil {
		t.Fatal(err)
	}
	void := issue(t, s, finalInvoice("ord_5/final", "ord_5", "cus_1", "500.00", "2026-04-01"))
	if err := s.WithTx(ctx, func(tx pgx.Tx) error {
		_, err := store.VoidInvoice(ctx, tx, domain.VoidInvoiceInput{Number: void.Number, Reason: "x", At: orderT0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	invoices, orders, err := s.CreditExposure(ctx, "cus_1", "ord_1")
	if err != nil {
		t.Fatal(err)
	}
	eq := func(what string, m map[string]decimal.Decimal, want map[string]string) {
		t.Helper()
		if len(m) != len(want) {
			t.Fatalf("%s: %v, want %v", what, m, want)
		}
		for cur, w := range want {
			if !m[cur].Equal(decimal.RequireFromString(w)) {
				t.Fatalf("%s: %v, want %v", what, m, want)
			}
		}
	}
	eq("open invoices", invoices, map[string]string{"CNY": "249.50", "USD": "30"})
	eq("open orders", orders, map[string]string{"CNY": "200", "USD": "30"})
	_, orders, err = s.CreditExposure(ctx, "cus_1", "")
	if err != nil {
		t.Fatal(err)
	}
	eq("open orders with ord_1", orders, map[string]string{"CNY": "300", "USD": "30"})
	invoices, orders, err = s.CreditExposure(ctx, "cus_none", "")
	if err != nil || len(invoices) != 0 || len(orders) != 0 {
		t.Fatalf("no such customer: %v %v %v", invoices, orders, err)
	}
}

func TestContractRemaining(t *testing.T) {
	s := storetest.New(t, "ctrrem")
	seedOrderParties(t, s)
	ctx := context.Background()
	ctr := contractState("ctr_1") // cus_1, 1000.00 CNY, approved
	if err := store.UpsertContract(ctx, s.Pool, ctr, "contract/ctr_1"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct{ id, status, total string }{
		{"ord_1", domain.OrderInProduction, "100.00"},
		{"ord_2", domain.OrderPaid, "200.25"},
		{"ord_3", domain.OrderCancelled, "300.00"},
		{"ord_4", domain.OrderLapsed, "400.00"},
	} {
		st := orderState(o.id, "cus_1", "alice", o.status, o.total, "CNY")
		st.ContractID = "ctr_1"
		upsertOrder(t, s, st)
	}
	upsertOrder(t, s, orderState("ord_5", "cus_1", "alice", domain.OrderInReview, "50.00", "CNY")) // no contract
	remaining := func(id string) (store.ContractBudget, error) {
		var b store.ContractBudget
		err := s.WithTx(ctx, func(tx pgx.Tx) error {
			var err error
			b, err = store.ContractRemaining(ctx, tx, id)
			return err
		})
		return b, err
	}
	b, err := remaining("ctr_1")
	if err != nil || b.CustomerID != "cus_1" || b.Status != domain.ContractApproved || b.Amount != cny("1000.00") ||
		!b.Ordered.Equal(decimal.RequireFromString("300.25")) {
		t.Fatalf("budget: %+v %v", b, err)
	}
	if _, err := remaining("ctr_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing contract: %v", err)
	}

	// Concurrent order entries against the contract queue on its row: each sees the
	// orders the others committed, so that no two draw the same remainder.
	const n = 10
	var wg sync.WaitGroup
	accepted := make(chan string, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("ord_c%d", i)
			errs <- s.WithTx(ctx, func(tx pgx.Tx) error {
				b, err := store.ContractRemaining(ctx, tx, "ctr_1")
				if err != nil {
					return err
				}
				amount, _ := b.Amount.Decimal()
				total := decimal.RequireFromString("200")
				if b.Ordered.Add(total).GreaterThan(amount) {
					return nil
				}
				st := orderState(id, "cus_1", "alice", domain.OrderInReview, "200.00", "CNY")
				st.ContractID = "ctr_1"
				accepted <- id
				return store.UpsertOrder(ctx, tx, st, domain.OrderWorkflowID(id))
			})
		}()
	}
	wg.Wait()
	close(errs)
	close(accepted)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(accepted) != 3 {
		t.Fatalf("%d orders of 200 fit a remainder of 699.75, want 3", len(accepted))
	}
	if b, err := remaining("ctr_1"); err != nil || !b.Ordered.Equal(decimal.RequireFromString("900.25")) {
		t.Fatalf("budget after: %+v %v", b, err)
	}
}
