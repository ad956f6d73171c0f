package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func TestIdempotent(t *testing.T) {
	s := storetest.New(t, "idem")
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.UserInput{Username: "alice", Roles: []string{"sales_rep"}}); err != nil {
		t.Fatal(err)
	}
	key := func(k, body string) store.IdempotencyKey {
		return store.IdempotencyKey{Username: "alice", Scope: "POST /x", Key: k, RequestHash: domain.HashToken(body)}
	}
	var runs atomic.Int32
	create := func(status int) store.CreateFunc {
		return func(ctx context.Context, tx pgx.Tx, id string) (int, []byte, error) {
			runs.Add(1)
			time.Sleep(50 * time.Millisecond)
			_, err := store.InsertCustomer(ctx, tx, store.CustomerInput{ID: id, Name: "n", Email: "e@x.test", Locale: "en", Tier: "C", Owner: "alice"})
			return status, []byte(`{"id":"` + id + `"}`), err
		}
	}

	// Concurrent duplicates: one create, every caller gets its response.
	var wg sync.WaitGroup
	results := make([]store.IdempotentResult, 5)
	errs := make([]error, 5)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = s.Idempotent(ctx, key("k1", "a"), domain.NewID("cus"), create(201))
		})
	}
	wg.Wait()
	replays := 0
	for i, r := range results {
		if errs[i] != nil || r.ResourceID != results[0].ResourceID || r.Status != 201 || string(r.Body) != `{"id":"`+r.ResourceID+`"}` {
			t.Fatalf("result %d: %+v %v", i, r, errs[i])
		}
		if r.Replayed {
			replays++
		}
	}
	if runs.Load() != 1 || replays != 4 {
		t.Fatalf("%d creates, %d replays", runs.Load(), replays)
	}

	// Another body with the same key is refused.
	if _, err := s.Idempotent(ctx, key("k1", "b"), domain.NewID("cus"), create(201)); !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Fatalf("mismatch: %v", err)
	}

	// A 4xx undoes create's writes and forgets the key: a fixed request may reuse it.
	r, err := s.Idempotent(ctx, key("k2", "bad"), "cus_bad", create(422))
	if err != nil || r.Status != 422 {
		t.Fatalf("4xx: %+v %v", r, err)
	}
	if _, err := s.CustomerByID(ctx, "cus_bad"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("4xx kept its writes: %v", err)
	}
	if r, err := s.Idempotent(ctx, key("k2", "good"), "cus_good", create(201)); err != nil || r.ResourceID != "cus_good" || r.Replayed {
		t.Fatalf("reuse after 4xx: %+v %v", r, err)
	}

	// An error rolls back but keeps the business id: the retry resumes with it.
	boom := errors.New("boom")
	_, err = s.Idempotent(ctx, key("k3", "c"), "cus_first", func(context.Context, pgx.Tx, string) (int, []byte, error) { return 0, nil, boom })
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if r, err := s.Idempotent(ctx, key("k3", "c"), "cus_second", create(201)); err != nil || r.ResourceID != "cus_first" || r.Replayed {
		t.Fatalf("resume: %+v %v", r, err)
	}

	// Without a key, a 4xx rolls back too.
	if r, err := s.WithoutIdempotency(ctx, "cus_nokey", create(409)); err != nil || r.Status != 409 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := s.CustomerByID(ctx, "cus_nokey"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("4xx without key kept its writes")
	}
}
