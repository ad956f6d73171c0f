package domain

// ErrTypePaymentRefused is the type of the non-retryable error of RecordOrderPayment for
// a payment its invoice cannot take: more than is open, in another currency, or for a
// void invoice. The workflow checks a payment before recording it, so this is a last
// line of defence; a retry cannot help.
const ErrTypePaymentRefused = "PaymentRefused"
