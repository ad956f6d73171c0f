package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func seedContractOwner(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO users (id, username, display_name, email) VALUES ('usr_a', 'alice', 'Alice', 'alice@example.com')`,
		`INSERT INTO customers (id, name, email, locale, tier, owner) VALUES ('cus_1', 'Northwind', 'n@example.com', 'en', 'A', 'alice')`,
	} {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

func contractState(id string) domain.ContractState {
	st := domain.ContractState{ID: id, CustomerID: "cus_1", Title: "Lathes " + id, Status: domain.ContractApproved,
		SubmittedBy: "alice", SubmittedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	st.Revision, st.Class = 1, domain.ClassStandard
	st.Terms = domain.ContractTerms{CustomerID: "cus_1", Title: st.Title, Amount: domain.Money{Amount: "1000.00", Currency: "CNY"}}
	return st
}

func TestLedgerNumbersAreGapFreeUnderConcurrency(t *testing.T) {
	s := storetest.New(t, "ledger")
	seedContractOwner(t, s)
	ctx := context.Background()
	const n = 50
	for i := range n {
		id := fmt.Sprintf("ctr_%02d", i)
		if err := store.UpsertContract(ctx, s.Pool, contractState(id), domain.ContractWorkflowID(id)); err != nil {
			t.Fatal(err)
		}
	}
	nos := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.WithTx(ctx, func(tx pgx.Tx) error {
				no, err := store.AssignLedgerNo(ctx, tx, fmt.Sprintf("ctr_%02d", i), 2026)
				nos[i] = no
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
		if want := fmt.Sprintf("HT-2026-%04d", i+1); no != want {
			t.Fatalf("ledger numbers not consecutive: position %d is %s, want %s (all: %v)", i, no, want, nos)
		}
	}
	// A retry returns the number already given, and a rolled-back assignment gives its
	// number back.
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		no, err := store.AssignLedgerNo(ctx, tx, "ctr_07", 2026)
		if err == nil && no != first07 {
			t.Errorf("a retry for ctr_07 gave %s, want the number it has, %s", no, first07)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UpsertContract(ctx, s.Pool, contractState("ctr_x"), "contract/ctr_x"); err != nil {
		t.Fatal(err)
	}
	_ = s.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := store.AssignLedgerNo(ctx, tx, "ctr_x", 2026); err != nil {
			t.Fatal(err)
		}
		return fmt.Errorf("roll back")
	})
	var no string
	if err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		no, err = store.AssignLedgerNo(ctx, tx, "ctr_x", 2026)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if no != "HT-2026-0051" {
		t.Fatalf("after a rollback the next number is %s, want HT-2026-0051", no)
	}
	got, err := s.GetContract(ctx, "ctr_x")
	if err != nil || got.LedgerNo != no || got.State.LedgerNo != no {
		t.Fatalf("GetContract: %+v %v", got, err)
	}
	ledger, next, err := s.ListContracts(ctx, store.ContractFilter{Status: domain.ContractApproved, Limit: 20})
	if err != nil || len(ledger) != 20 || ledger[0].LedgerNo != "HT-2026-0001" || next == "" {
		t.Fatalf("ledger page 1: %d items, first %q, next %q, %v", len(ledger), ledger[0].LedgerNo, next, err)
	}
	page2, _, err := s.ListContracts(ctx, store.ContractFilter{Status: domain.ContractApproved, Limit: 20, Cursor: next})
	if err != nil || page2[0].LedgerNo != "HT-2026-0021" {
		t.Fatalf("ledger page 2 starts at %q: %v", page2[0].LedgerNo, err)
	}
}

func TestContractReviewsAreRecordedOnce(t *testing.T) {
	s := storetest.New(t, "ctrrev")
	seedContractOwner(t, s)
	ctx := context.Background()
	st := contractState("ctr_r")
	if err := store.UpsertContract(ctx, s.Pool, st, "contract/ctr_r"); err != nil {
		t.Fatal(err)
	}
	rev := []domain.ContractReview{{TaskID: "tsk_1", Revision: 1, Step: "review", Reviewer: "bob", Decision: "reject", Comment: "price", At: st.SubmittedAt}}
	for range 2 {
		if err := store.InsertContractReviews(ctx, s.Pool, "ctr_r", rev); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetContract(ctx, "ctr_r")
	if err != nil || len(got.ReviewRecord) != 1 || got.ReviewRecord[0].Comment != "price" {
		t.Fatalf("review record: %+v %v", got.ReviewRecord, err)
	}
}

// The ledger lists every contract with a ledger number, in ledger order, also one whose
// amendment is under review (ListContracts with status approved leaves it out), and
// pages with its own cursor.
func TestLedgerKeepsAmendedContracts(t *testing.T) {
	s := storetest.New(t, "ledger")
	seedContractOwner(t, s)
	ctx := context.Background()
	for i, status := range []string{domain.ContractApproved, domain.ContractAmendmentReview, domain.ContractApproved, domain.ContractInReview} {
		id := fmt.Sprintf("ctr_l%d", i)
		st := contractState(id)
		st.Status = status
		if i == 1 {
			st.Class = domain.ClassSpecial
		}
		if err := store.UpsertContract(ctx, s.Pool, st, "contract/"+id); err != nil {
			t.Fatal(err)
		}
		if status == domain.ContractInReview {
			continue
		}
		if err := s.WithTx(ctx, func(tx pgx.Tx) error { _, err := store.AssignLedgerNo(ctx, tx, id, 2026); return err }); err != nil {
			t.Fatal(err)
		}
	}
	page, next, err := s.ListLedger(ctx, store.LedgerFilter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].LedgerNo != "HT-2026-0001" || page[1].ID != "ctr_l1" || next == "" {
		t.Fatalf("ledger page 1: %+v %q %v", page, next, err)
	}
	page, next, err = s.ListLedger(ctx, store.LedgerFilter{Limit: 2, Cursor: next})
	if err != nil || len(page) != 1 || page[0].LedgerNo != "HT-2026-0003" || next != "" {
		t.Fatalf("ledger page 2: %+v %q %v", page, next, err)
	}
	if page, _, err := s.ListLedger(ctx, store.LedgerFilter{SubmittedBy: "bob"}); err != nil || len(page) != 0 {
		t.Fatalf("bob's ledger: %+v %v", page, err)
	}
	if _, _, err := s.ListLedger(ctx, store.LedgerFilter{Cursor: store.Cursor{K: store.CursorLedger, ID: "HT-2026-0001"}.Encode()}); err == nil {
		t.Fatalf("the ledger took a cursor of the approved-contracts list")
	}
	special, _, err := s.ListContracts(ctx, store.ContractFilter{Class: domain.ClassSpecial})
	if err != nil || len(special) != 1 || special[0].ID != "ctr_l1" {
		t.Fatalf("class filter: %+v %v", special, err)
	}
}
