package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// newWriteSideStore returns a fresh store with a few users and one customer.
func newWriteSideStore(t *testing.T) *store.Store {
	t.Helper()
	s := storetest.New(t, "storew")
	_, err := s.Pool.Exec(context.Background(), `
INSERT INTO users (id, username, display_name, email, locale) VALUES
  ('usr_dave', 'dave', 'Dave', 'dave@example.com', 'en'),
  ('usr_carol', 'carol', 'Carol', 'carol@example.com', 'zh-CN'),
  ('usr_cathy', 'cathy', 'Cathy', 'cathy@example.com', 'en');
UPDATE users SET manager = 'dave' WHERE username IN ('carol', 'cathy');
UPDATE users SET out_of_office = true, delegate = 'carol' WHERE username = 'cathy';
INSERT INTO user_roles (username, role) VALUES ('dave', 'service_manager'), ('dave', 'customer_service'),
  ('carol', 'customer_service'), ('cathy', 'customer_service');
INSERT INTO customers (id, name, email, locale, tier, owner) VALUES ('cus_1', 'Acme', 'buyer@acme.example', 'en', 'B', 'dave');`)
	require.NoError(t, err)
	return s
}

func TestLookupUser(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	u, err := store.LookupUser(ctx, s.Pool, "cathy")
	require.NoError(t, err)
	assert.Equal(t, store.UserContact{Username: "cathy", DisplayName: "Cathy", Email: "cathy@example.com",
		Locale: "en", Manager: "dave", Delegate: "carol", OutOfOffice: true}, u)

	u, err = store.LookupUser(ctx, s.Pool, "dave")
	require.NoError(t, err)
	assert.Equal(t, "", u.Manager)
	assert.False(t, u.OutOfOffice)

	_, err = store.LookupUser(ctx, s.Pool, "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestUsernamesByRoleAndGroups(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	names, err := store.UsernamesWithRole(ctx, s.Pool, "customer_service")
	require.NoError(t, err)
	assert.Equal(t, []string{"carol", "cathy", "dave"}, names)

	// dave holds both groups and is listed once.
	names, err = store.UsernamesInGroups(ctx, s.Pool, []string{"service_manager", "customer_service"})
	require.NoError(t, err)
	assert.Equal(t, []string{"carol", "cathy", "dave"}, names)

	names, err = store.UsernamesWithRole(ctx, s.Pool, "finance")
	require.NoError(t, err)
	assert.Equal(t, []string{}, names)
	names, err = store.UsernamesInGroups(ctx, s.Pool, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{}, names)
}
