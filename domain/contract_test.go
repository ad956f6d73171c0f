package domain

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plainTerms is a standard contract: 100 000 CNY, no discount, no special requirement.
func plainTerms() ContractTerms {
	return ContractTerms{
		CustomerID: "cus_1", Title: "Pumps 2025", Amount: Money{Amount: "100000.00", Currency: "CNY"},
		DeliveryDate: "2025-06-30", PaymentTerms: "30 days net",
	}
}

func TestClassify(t *testing.T) {
	rules := DefaultContractRules()
	for _, tc := range []struct {
		name    string
		change  func(*ContractTerms)
		class   string
		reasons []string
	}{
		{"standard", func(*ContractTerms) {}, ClassStandard, []string{}},
		{"custom spec", func(c *ContractTerms) { c.Requirements.CustomSpec = true }, ClassSpecial, []string{"custom_spec"}},
		{"special quality", func(c *ContractTerms) { c.Requirements.SpecialQuality = true }, ClassSpecial, []string{"special_quality"}},
		{"special packaging", func(c *ContractTerms) { c.Requirements.SpecialPackaging = true }, ClassSpecial, []string{"special_packaging"}},
		{"non-standard delivery", func(c *ContractTerms) { c.Requirements.NonStandardDelivery = true }, ClassSpecial, []string{"non_standard_delivery"}},
		{"non-standard payment", func(c *ContractTerms) { c.Requirements.NonStandardPayment = true }, ClassSpecial, []string{"non_standard_payment"}},
		{"discount at the limit", func(c *ContractTerms) { c.DiscountPct = "5" }, ClassStandard, []string{}},
		{"discount above the limit", func(c *ContractTerms) { c.DiscountPct = "5.01" }, ClassSpecial, []string{ReasonDiscount}},
		{"just below the special threshold", func(c *ContractTerms) { c.Amount.Amount = "499999.99" }, ClassStandard, []string{}},
		{"at the special threshold", func(c *ContractTerms) { c.Amount.Amount = "500000" }, ClassSpecial, []string{ReasonSpecialThreshold}},
		{"strategic", func(c *ContractTerms) { c.Strategic = true }, ClassMajor, []string{ReasonStrategic}},
		{"just below the major threshold", func(c *ContractTerms) { c.Amount.Amount = "4999999.99" }, ClassSpecial, []string{ReasonSpecialThreshold}},
		{"at the major threshold", func(c *ContractTerms) { c.Amount.Amount = "5000000.00" }, ClassMajor,
			[]string{ReasonSpecialThreshold, ReasonMajorThreshold}},
		{"every reason", func(c *ContractTerms) {
			c.Requirements = ContractRequirements{true, true, true, true, true}
			c.DiscountPct, c.Amount.Amount, c.Strategic = "12", "9000000", true
		}, ClassMajor, []string{"custom_spec", "special_quality", "special_packaging", "non_standard_delivery",
			"non_standard_payment", ReasonDiscount, ReasonSpecialThreshold, ReasonStrategic, ReasonMajorThreshold}},
		{"explicit class raises to special", func(c *ContractTerms) { c.Class = ClassSpecial }, ClassSpecial, []string{ReasonExplicitClass}},
		{"explicit class raises to major", func(c *ContractTerms) { c.Class = ClassMajor }, ClassMajor, []string{ReasonExplicitClass}},
		{"explicit class never lowers", func(c *ContractTerms) { c.Class, c.Strategic = ClassStandard, true }, ClassMajor, []string{ReasonStrategic}},
		{"explicit class equal", func(c *ContractTerms) { c.Class, c.Requirements.CustomSpec = ClassSpecial, true }, ClassSpecial, []string{"custom_spec"}},
		// 70 000 USD at 7.2 = 504 000 CNY.
		{"converted to CNY", func(c *ContractTerms) { c.Amount = Money{Amount: "70000", Currency: "USD"} }, ClassSpecial, []string{ReasonSpecialThreshold}},
		{"converted below", func(c *ContractTerms) { c.Amount = Money{Amount: "69000", Currency: "USD"} }, ClassStandard, []string{}},
		// 650 000 EUR at 7.8 = 5 070 000 CNY.
		{"converted to major", func(c *ContractTerms) { c.Amount = Money{Amount: "650000", Currency: "EUR"} }, ClassMajor,
			[]string{ReasonSpecialThreshold, ReasonMajorThreshold}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			terms := plainTerms()
			tc.change(&terms)
			class, reasons, err := Classify(terms, rules)
			require.NoError(t, err)
			assert.Equal(t, tc.class, class)
			assert.Equal(t, tc.reasons, reasons)
			assert.Empty(t, terms.Validate(rules))
		})
	}
}

func TestClassifyUsesTheConfiguredRules(t *testing.T) {
	rules := ContractRules{
		AllowedDiscountPct: "10",
		SpecialThreshold:   Money{Amount: "100000", Currency: "USD"},
		MajorThreshold:     Money{Amount: "200000", Currency: "USD"},
		Rates:              map[string]string{"USD": "7", "JPY": "0.05"},
	}
	require.NoError(t, rules.Validate())
	for _, tc := range []struct {
		amount   Money
		discount json.Number
		class    string
	}{
		{Money{Amount: "699999", Currency: "CNY"}, "10", ClassStandard},
		{Money{Amount: "700000", Currency: "CNY"}, "", ClassSpecial},
		{Money{Amount: "1400000", Currency: "CNY"}, "", ClassMajor},
		{Money{Amount: "13999999", Currency: "JPY"}, "", ClassStandard}, // 699 999.95 CNY
		{Money{Amount: "14000000", Currency: "JPY"}, "", ClassSpecial},
		{Money{Amount: "1", Currency: "CNY"}, "10.5", ClassSpecial},
	} {
		terms := plainTerms()
		terms.Amount, terms.DiscountPct = tc.amount, tc.discount
		class, _, err := Classify(terms, rules)
		require.NoError(t, err)
		assert.Equal(t, tc.class, class, "%v %s", tc.amount, tc.discount)
	}
}

func TestClassifyRejectsWhatItCannotJudge(t *testing.T) {
	rules := DefaultContractRules()
	for name, change := range map[string]func(*ContractTerms){
		"unknown currency":  func(c *ContractTerms) { c.Amount.Currency = "GBP" },
		"invalid amount":    func(c *ContractTerms) { c.Amount.Amount = "1e6" },
		"invalid discount":  func(c *ContractTerms) { c.DiscountPct = "lots" },
		"discount over 100": func(c *ContractTerms) { c.DiscountPct = "101" },
		"unknown class":     func(c *ContractTerms) { c.Class = "huge" },
	} {
		t.Run(name, func(t *testing.T) {
			terms := plainTerms()
			change(&terms)
			_, _, err := Classify(terms, rules)
			assert.Error(t, err)
			assert.NotEmpty(t, terms.Validate(rules))
		})
	}
	_, _, err := Classify(plainTerms(), ContractRules{AllowedDiscountPct: "5",
		SpecialThreshold: Money{Amount: "1", Currency: "GBP"}, MajorThreshold: Money{Amount: "1", Currency: "CNY"}})
	assert.ErrorContains(t, err, "no exchange rate is configured for GBP")
}

func TestContractTermsValidate(t *testing.T) {
	rules := DefaultContractRules()
	terms := ContractTerms{
		Title: " ", Amount: Money{Amount: "0", Currency: "CNY"}, DiscountPct: "-1",
		DeliveryDate: "2025-02-30", Class: "tiny",
	}
	var fields []string
	for _, e := range terms.Validate(rules) {
		fields = append(fields, e.Field)
	}
	assert.Equal(t, []string{"customer_id", "title", "amount", "discount_pct", "delivery_date", "payment_terms", "class"}, fields)

	terms = plainTerms()
	terms.Amount.Currency = "GBP"
	assert.Equal(t, []FieldError{{Field: "amount.currency", Message: "no exchange rate is configured for GBP"}}, terms.Validate(rules))
}

func TestContractRulesValidate(t *testing.T) {
	assert.NoError(t, DefaultContractRules().Validate())
	bad := DefaultContractRules()
	bad.MajorThreshold.Amount = "1000"
	assert.ErrorContains(t, bad.Validate(), "below the special threshold")
	bad = DefaultContractRules()
	bad.Rates = map[string]string{"USD": "0"}
	assert.ErrorContains(t, bad.Validate(), "positive")
	bad = DefaultContractRules()
	bad.AllowedDiscountPct = "x"
	assert.Error(t, bad.Validate())
}

func TestRoutes(t *testing.T) {
	assert.Equal(t, []string{StepReview}, Route(ClassStandard))
	special := []string{StepCountersignProduction, StepCountersignQuality, StepCountersignPurchasing,
		StepCountersignFinance, StepOpsReview, StepGMApproval}
	assert.Equal(t, special, Route(ClassSpecial))
	assert.Equal(t, []string{StepCountersignProduction, StepCountersignQuality, StepCountersignPurchasing,
		StepCountersignFinance, StepOpsReview, StepReviewMeeting, StepGMApproval}, Route(ClassMajor))
	assert.Len(t, RouteStages(ClassSpecial), 3)
	assert.Len(t, RouteStages(ClassSpecial)[0], 4, "the countersigns are one parallel stage")
	assert.Empty(t, Route("other"))

	assert.Equal(t, []string{"sales_manager"}, RouteGroups(ClassStandard))
	assert.Equal(t, []string{"production", "quality", "purchasing", "finance", "ops_head", "general_manager"},
		RouteGroups(ClassMajor))
	assert.Equal(t, RoleDeputyGM, ContractEscalationRole(StepReview))
	assert.Equal(t, RoleOpsHead, ContractEscalationRole(StepCountersignFinance))
	assert.Equal(t, RoleGeneralManager, ContractEscalationRole(StepOpsReview))
	assert.Equal(t, RoleGeneralManager, ContractEscalationRole(StepGMApproval))
}

func TestContractChangesApply(t *testing.T) {
	no, title, amount := false, "Pumps 2026", Money{Amount: "5", Currency: "EUR"}
	pct := json.Number("2.5")
	base := plainTerms()
	base.Requirements.CustomSpec, base.Requirements.SpecialQuality = true, true
	assert.True(t, ContractChanges{Requirements: &RequirementChanges{}}.Empty())
	c := ContractChanges{Title: &title, Amount: &amount, DiscountPct: &pct, Requirements: &RequirementChanges{CustomSpec: &no}}
	assert.False(t, c.Empty())
	got := base.Apply(c)
	want := base
	want.Title, want.Amount, want.DiscountPct, want.Requirements.CustomSpec = title, amount, pct, false
	assert.Equal(t, want, got)
	assert.True(t, base.Requirements.CustomSpec, "the original is unchanged")

	// A discount arrives as a JSON number or a string.
	var ch ContractChanges
	require.NoError(t, json.Unmarshal([]byte(`{"discount_pct": 7.5, "requirements": {"special_quality": false}}`), &ch))
	assert.Equal(t, json.Number("7.5"), *ch.DiscountPct)
	require.NoError(t, json.Unmarshal([]byte(`{"discount_pct": "7.5"}`), &ch))
	assert.Equal(t, json.Number("7.5"), *ch.DiscountPct)
}
