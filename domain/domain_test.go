package domain

import (
	"strings"
	"testing"
	"time"
)

func TestResponseWindowTakesTheShortestThatApplies(t *testing.T) {
	p := DefaultComplaintPolicy()
	cases := []struct {
		severity, tier string
		want           time.Duration
	}{
		{"normal", "C", 24 * time.Hour},
		{"normal", "A", 12 * time.Hour},
		{"urgent", "C", time.Hour},
		{"urgent", "A", time.Hour},
		{"normal", "D", 24 * time.Hour},
	}
	for _, c := range cases {
		if got := p.ResponseWindow(c.severity, c.tier); got != c.want {
			t.Errorf("ResponseWindow(%s, %s) = %s, want %s", c.severity, c.tier, got, c.want)
		}
	}
	// A policy where tier A is slower than normal must not lengthen the window.
	p.TierAResponseSLA = 48 * time.Hour
	if got := p.ResponseWindow("normal", "A"); got != 24*time.Hour {
		t.Errorf("tier A must never lengthen the window, got %s", got)
	}
}

func TestMoneyValidate(t *testing.T) {
	for _, ok := range []Money{{"0", "CNY"}, {"1234.50", "CNY"}, {"10000.0001", "USD"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%v: unexpected error %v", ok, err)
		}
	}
	for _, bad := range []Money{{"", "CNY"}, {"1,5", "CNY"}, {"-1.00", "CNY"}, {"1.00", "cny"}, {"1e3", "CNY"}, {"1.00", ""}, {"12345678901234567", "CNY"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
	d, _ := Money{"20000.5", "CNY"}.Decimal()
	if got := NewMoney(d, "CNY"); got.Amount != "20000.50" {
		t.Errorf("NewMoney formats %q, want 20000.50", got.Amount)
	}
}

func TestTaskIDIsDeterministicAndDistinct(t *testing.T) {
	a := TaskID("complaint/cmp_1", StepApproveResolution, 1, "")
	if a != TaskID("complaint/cmp_1", StepApproveResolution, 1, "") {
		t.Fatal("TaskID is not deterministic")
	}
	if !strings.HasPrefix(a, "tsk_") {
		t.Fatalf("TaskID %q lacks the tsk_ prefix", a)
	}
	others := []string{
		TaskID("complaint/cmp_1", StepApproveResolution, 1, "finance"),
		TaskID("complaint/cmp_1", StepApproveResolution, 2, ""),
		TaskID("complaint/cmp_2", StepApproveResolution, 1, ""),
		TaskID("complaint/cmp_1", StepResolve, 1, ""),
	}
	seen := map[string]bool{a: true}
	for _, o := range others {
		if seen[o] {
			t.Fatalf("TaskID collision: %s", o)
		}
		seen[o] = true
	}
}

func TestTokensAndRoles(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) != 64 {
		t.Fatalf("tokens must be random 32-byte hex strings: %q %q", a, b)
	}
	if string(HashToken(a)) == string(HashToken(b)) || len(HashToken(a)) != 32 {
		t.Fatal("HashToken must be SHA-256")
	}
	if !ValidRole("finance") || ValidRole("root") {
		t.Fatal("ValidRole")
	}
	if !HasAny([]Role{RoleFinance, RoleAdmin}, RoleAdmin) || HasAny([]Role{RoleFinance}, RoleAdmin) {
		t.Fatal("HasAny")
	}
	if !NeedsApproval("refund") || !NeedsApproval("compensation") || NeedsApproval("repair") {
		t.Fatal("NeedsApproval")
	}
}
