package domain

import (
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"
)

// Money is an amount as a decimal string with its ISO 4217 currency, never a float.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
var amountRE = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,4})?$`)

// Decimal parses the amount.
func (m Money) Decimal() (decimal.Decimal, error) {
	if !amountRE.MatchString(m.Amount) {
		return decimal.Zero, fmt.Errorf("amount must be a decimal string such as \"1234.50\"")
	}
	return decimal.NewFromString(m.Amount)
}

// Validate checks the amount format, that it is not negative, and the currency code.
func (m Money) Validate() error {
	d, err := m.Decimal()
	if err != nil {
		return err
	}
	if d.IsNegative() {
		return fmt.Errorf("amount must not be negative")
	}
	if !currencyRE.MatchString(m.Currency) {
		return fmt.Errorf("currency must be a 3-letter ISO 4217 code such as CNY")
	}
	return nil
}

// NewMoney formats d with two decimals.
func NewMoney(d decimal.Decimal, currency string) Money {
	return Money{Amount: d.StringFixed(2), Currency: currency}
}
