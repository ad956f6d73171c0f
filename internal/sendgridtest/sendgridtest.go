// Package sendgridtest stands in for SendGrid in tests: a webhook signing key that signs
// as SendGrid does, and the decoding of a v3 mail/send request body for the fake
// SendGrid servers to check.
package sendgridtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// SigningKey is an ECDSA P-256 key pair in place of SendGrid's event-webhook signing key.
type SigningKey struct {
	priv   *ecdsa.PrivateKey
	Public string // base64 DER, as SendGrid's settings page shows it
}

// NewSigningKey returns a fresh key pair.
func NewSigningKey(t testing.TB) SigningKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return SigningKey{priv: priv, Public: base64.StdEncoding.EncodeToString(der)}
}

// Sign signs like SendGrid: ECDSA over SHA-256(timestamp + payload), ASN.1 DER, base64.
func (k SigningKey) Sign(t testing.TB, timestamp string, payload []byte) string {
	t.Helper()
	h := sha256.Sum256(append([]byte(timestamp), payload...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// Address is an e-mail address with an optional name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// MailSend is the part of a v3 mail/send body that the fakes check.
type MailSend struct {
	From             Address `json:"from"`
	Subject          string  `json:"subject"`
	Personalizations []struct {
		To         []Address         `json:"to"`
		CustomArgs map[string]string `json:"custom_args"`
	} `json:"personalizations"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	CustomArgs map[string]string `json:"custom_args"`
	Headers    map[string]string `json:"headers"`
}

// DecodeMailSend decodes a v3 mail/send request body.
func DecodeMailSend(r io.Reader) (MailSend, error) {
	var m MailSend
	err := json.NewDecoder(r).Decode(&m)
	return m, err
}

// StrayHTTP2 reports whether r is an HTTP/2 client's connection preface ("PRI *
// HTTP/2.0"), which a Go HTTP/1 server hands to its handler as a request. No SendGrid
// client sends one to an http:// URL. A gRPC client does: the embedded Temporal server
// leaves some of its internal SDK workers polling after Stop (upstream, v1.30.8), and
// they redial the stopped frontend's port with backoff for as long as the test process
// lives. Once the kernel gives that port to a fake SendGrid, their prefaces arrive
// there. The fakes turn them away rather than fail the test that owns the port;
// anything else unexpected still fails it.
func StrayHTTP2(r *http.Request) bool {
	return r.Method == "PRI" && r.ProtoMajor == 2
}
