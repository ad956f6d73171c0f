package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/web"
)

// demoTimeZone is where the demo organisation works: the web app shows its times there.
const demoTimeZone = "Asia/Shanghai"

// demoUsers is DOMAIN.md's demo organisation: roles, managers (escalation targets).
var demoUsers = []store.UserInput{
	{Username: "judy", DisplayName: "Judy (General Manager)", Roles: []string{"general_manager"}},
	{Username: "ken", DisplayName: "Ken (Deputy GM)", Roles: []string{"deputy_gm"}, Manager: "judy"},
	{Username: "ivan", DisplayName: "Ivan (Head of Operations)", Roles: []string{"ops_head"}, Manager: "judy"},
	{Username: "bob", DisplayName: "Bob (Sales Manager)", Roles: []string{"sales_manager"}, Manager: "ken"},
	{Username: "alice", DisplayName: "Alice (Sales Rep)", Roles: []string{"sales_rep"}, Manager: "bob"},
	{Username: "aaron", DisplayName: "Aaron (Sales Rep)", Roles: []string{"sales_rep"}, Manager: "bob"},
	{Username: "dave", DisplayName: "Dave (Service Manager)", Roles: []string{"service_manager"}, Manager: "judy"},
	{Username: "carol", DisplayName: "Carol (Customer Service)", Roles: []string{"customer_service"}, Manager: "dave"},
	{Username: "cathy", DisplayName: "Cathy (Customer Service)", Locale: "zh-CN", Roles: []string{"customer_service"}, Manager: "dave"},
	{Username: "erin", DisplayName: "Erin (Finance)", Roles: []string{"finance"}, Manager: "ivan"},
	{Username: "frank", DisplayName: "Frank (Quality)", Roles: []string{"quality"}, Manager: "ivan"},
	{Username: "grace", DisplayName: "Grace (Production)", Roles: []string{"production"}, Manager: "ivan"},
	{Username: "heidi", DisplayName: "Heidi (Purchasing)", Roles: []string{"purchasing"}, Manager: "ivan"},
	{Username: "leo", DisplayName: "Leo (Logistics)", Roles: []string{"logistics"}, Manager: "ivan"},
	{Username: "admin", DisplayName: "Administrator", Roles: []string{"admin"}},
}

// demoCustomers covers every tier and both locales. Fixed ids keep seeding idempotent.
var demoCustomers = []store.CustomerInput{
	{ID: "cus_DEMO_NORTHWIND", Name: "Northwind Machinery", Email: "service@northwind.example", Locale: "en", Tier: "A", Owner: "alice", CreditLimit: domain.Money{Amount: "5000000.00", Currency: "CNY"}},
	{ID: "cus_DEMO_HUADONG", Name: "华东重工 East China Heavy Industry", Email: "kefu@huadong.example", Locale: "zh-CN", Tier: "A", Owner: "aaron", CreditLimit: domain.Money{Amount: "8000000.00", Currency: "CNY"}},
	{ID: "cus_DEMO_CONTOSO", Name: "Contoso Fabrication", Email: "ops@contoso.example", Locale: "en", Tier: "B", Owner: "alice", CreditLimit: domain.Money{Amount: "1000000.00", Currency: "CNY"}},
	{ID: "cus_DEMO_FABRIKAM", Name: "Fabrikam Tools", Email: "buyer@fabrikam.example", Locale: "en", Tier: "C", Owner: "aaron", CreditLimit: domain.Money{Amount: "200000.00", Currency: "CNY"}},
	{ID: "cus_DEMO_LITWARE", Name: "立华配件 Litware Parts", Email: "caigou@litware.example", Locale: "zh-CN", Tier: "C", Owner: "alice", CreditLimit: domain.Money{Amount: "150000.00", Currency: "CNY"}},
	{ID: "cus_DEMO_TAILSPIN", Name: "Tailspin Traders", Email: "accounts@tailspin.example", Locale: "en", Tier: "D", Owner: "aaron", CreditLimit: domain.Money{Amount: "0.00", Currency: "CNY"}},
}

// DevPassword is every demo user's web sign-in password, set by dev for those who have
// none yet.
const DevPassword = "serviceflow-demo"

// devPasswordHash hashes DevPassword once per process: the demo users share it, and
// argon2id is meant to be slow.
var devPasswordHash = sync.OnceValues(func() (string, error) { return web.HashPassword(DevPassword) })

// seedDemo creates the demo organisation (idempotent), gives each demo user without a
// password DevPassword, and writes a token per user to tokenFile, keeping tokens from an
// earlier run that are still valid.
func seedDemo(ctx context.Context, st *store.Store, tokenFile string) error {
	for _, u := range demoUsers {
		u.Email = u.Username + "@serviceflow.example"
		// Locale: a demo user's switch survives a restart of dev (cathy's zh-CN is set
		// again). The time zone is the organisation's.
		u.TimeZone = demoTimeZone
		if err := st.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
		if h, err := st.PasswordHash(ctx, u.Username); err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		} else if h == "" {
			h, err := devPasswordHash()
			if err != nil {
				return err
			}
			if err := st.SetPasswordHash(ctx, u.Username, h); err != nil {
				return fmt.Errorf("user %s: password: %w", u.Username, err)
			}
		}
	}
	for _, c := range demoCustomers {
		if _, err := st.CreateCustomer(ctx, c); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("customer %s: %w", c.Name, err)
		}
	}
	tokens := map[string]string{}
	if b, err := os.ReadFile(tokenFile); err == nil {
		_ = json.Unmarshal(b, &tokens)
	}
	for _, u := range demoUsers {
		if tok, ok := tokens[u.Username]; ok {
			if who, err := st.UserByToken(ctx, tok); err == nil && who.Username == u.Username {
				continue
			}
		}
		tok, err := st.CreateToken(ctx, u.Username, "dev")
		if err != nil {
			return err
		}
		tokens[u.Username] = tok
	}
	b, err := json.MarshalIndent(tokens, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(tokenFile, append(b, '\n'), 0o600)
}

// seedProgrammes creates DOMAIN.md's survey programmes (each quarter, tier A each month,
// new customers daily), each with its Temporal Schedule, those of them not there yet
// (by name): an admin may have paused them since, and a seed that failed half-way
// makes the rest on the next start. Every programme's Schedule is made again when the
// Temporal server lacks it.
func seedProgrammes(ctx context.Context, st *store.Store, srv *api.Server) error {
	ps, err := st.SurveyProgrammes(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps { // a new data directory beside an old database has none
		if err := srv.EnsureSchedule(ctx, p); err != nil {
			return fmt.Errorf("survey programme %q: schedule: %w", p.Name, err)
		}
	}
	for _, p := range domain.SeedProgrammes {
		if slices.ContainsFunc(ps, func(x store.SurveyProgramme) bool { return x.Name == p.Name }) {
			continue
		}
		err := st.WithTx(ctx, func(tx pgx.Tx) error {
			_, err := srv.CreateProgramme(ctx, tx, store.SurveyProgramme{ID: domain.NewID("svp"), Name: p.Name,
				Audience: p.Audience, Cadence: p.Cadence, Status: domain.ProgrammeActive, CreatedBy: "admin",
				CreatedAt: time.Now().UTC()})
			return err
		})
		if err != nil {
			return fmt.Errorf("survey programme %q: %w", p.Name, err)
		}
	}
	return nil
}
