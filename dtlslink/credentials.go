package dtlslink

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Credentials are what a gateway proves itself with and what it demands of
// the peer gateway: mutual certificates under one CA (each side verifies
// the other's chain to Roots, and optionally that it names PeerName), or a
// pre-shared key for labs without a CA. Exactly one of the two.
type Credentials struct {
	// Certificate is ours, with its private key (and any intermediates
	// after the leaf).
	Certificate *tls.Certificate
	// Roots verify the peer's certificate: the CA that signs the gateways'
	// certificates.
	Roots *x509.CertPool
	// PeerName, when set, pins the peer: its certificate must be valid for
	// this DNS name or IP address (subjectAltName) or carry it as its
	// common name.
	PeerName string

	// PSK is the pre-shared key and PSKIdentity the identity we offer and
	// accept ("sctpgw" unless the key file names one).
	PSK         []byte
	PSKIdentity []byte
}

// String names the credentials without a secret: %v and %+v of a
// Credentials (or of a struct holding one) would print the pre-shared key
// and the private key's fields otherwise.
func (c *Credentials) String() string {
	switch {
	case c == nil:
		return "no credentials"
	case c.IsPSK():
		return fmt.Sprintf("pre-shared key (identity %q)", c.PSKIdentity)
	case c.PeerName != "":
		return fmt.Sprintf("certificate, peer name %q", c.PeerName)
	}
	return "certificate"
}

// GoString is String: %#v must not print the keys either.
func (c *Credentials) GoString() string { return c.String() }

// DefaultPSKIdentity is the identity of a key file that names none.
const DefaultPSKIdentity = "sctpgw"

// IsPSK reports whether c authenticates with a pre-shared key.
func (c *Credentials) IsPSK() bool { return c != nil && len(c.PSK) > 0 }

// Validate checks that c is complete and of one kind.
func (c *Credentials) Validate() error {
	switch {
	case c == nil:
		return errors.New("no credentials: a certificate, key and CA, or a pre-shared key")
	case c.IsPSK() && (c.Certificate != nil || c.Roots != nil):
		return errors.New("a pre-shared key and certificates: choose one")
	case c.IsPSK():
		if len(c.PSK) < 16 {
			return fmt.Errorf("pre-shared key of %d bytes: expected at least 16 (openssl rand -hex 32)", len(c.PSK))
		}
		return nil
	case c.Certificate == nil:
		return errors.New("no certificate of our own")
	case c.Roots == nil:
		return errors.New("no CA to verify the peer's certificate (mutual authentication is required)")
	}
	return nil
}

// Files name the credential files of a route (the tls block and psk_file
// of the configuration).
type Files struct {
	CertFile, KeyFile, CAFile string
	PeerName                  string
	PSKFile                   string
}

// Load reads the files.
func (f Files) Load() (*Credentials, error) {
	if f.PSKFile != "" {
		if f.CertFile != "" || f.KeyFile != "" || f.CAFile != "" {
			return nil, errors.New("psk_file and tls: choose one")
		}
		return loadPSK(f.PSKFile)
	}
	var missing []string
	for _, x := range []struct{ name, v string }{{"cert_file", f.CertFile}, {"key_file", f.KeyFile}, {"ca_file", f.CAFile}} {
		if x.v == "" {
			missing = append(missing, x.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing (mutual authentication needs our certificate, its key and the CA)", strings.Join(missing, ", "))
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cert_file %q, key_file %q: %w", f.CertFile, f.KeyFile, err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %q: no PEM certificate in it", f.CAFile)
	}
	return &Credentials{Certificate: &cert, Roots: roots, PeerName: f.PeerName}, nil
}

// loadPSK reads a key file: one line, the key in hex, optionally preceded
// by an identity and a colon ("edge1:9f3c..."). Blank lines and lines
// starting with # are skipped.
func loadPSK(path string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("psk_file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, key := DefaultPSKIdentity, line
		if i := strings.LastIndexByte(line, ':'); i >= 0 {
			id, key = line[:i], line[i+1:]
		}
		k, err := hex.DecodeString(key)
		if err != nil || id == "" {
			return nil, fmt.Errorf("psk_file %q: expected [IDENTITY:]HEXKEY on one line", path)
		}
		c := &Credentials{PSK: k, PSKIdentity: []byte(id)}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("psk_file %q: %w", path, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("psk_file %q: empty", path)
}

// verifyPeer checks the peer's chain against c at now: the CA, the
// validity period, the pinned name. Its errors are typed so a refusal can
// be counted by reason (reasonOf).
func verifyPeer(c *Credentials, rawCerts [][]byte, now time.Time) error {
	if len(rawCerts) == 0 {
		return errNoCertificate
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return &certError{reason: ReasonBadCertificate, err: err}
	}
	inter := x509.NewCertPool()
	for _, raw := range rawCerts[1:] {
		if ic, err := x509.ParseCertificate(raw); err == nil {
			inter.AddCert(ic)
		}
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots: c.Roots, Intermediates: inter, CurrentTime: now,
		// Gateways' certificates made by hand often carry no extended key
		// usage, or only one of the two a gateway needs (it dials and
		// accepts): the CA is what is trusted here.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return &certError{reason: certReason(err), err: err, subject: leaf.Subject.String()}
	}
	if c.PeerName != "" && leaf.VerifyHostname(c.PeerName) != nil && leaf.Subject.CommonName != c.PeerName {
		return &certError{reason: ReasonNameMismatch, subject: leaf.Subject.String(),
			err: fmt.Errorf("certificate is not for %q", c.PeerName)}
	}
	return nil
}

func certReason(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return ReasonUnknownCA
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return ReasonExpired
	}
	return ReasonBadCertificate
}

// certError is a refused peer certificate.
type certError struct {
	reason  string
	subject string
	err     error
}

func (e *certError) Error() string {
	if e.reason == ReasonPSKMismatch {
		return e.err.Error()
	}
	if e.subject != "" {
		return fmt.Sprintf("peer certificate %q: %v", e.subject, e.err)
	}
	return "peer certificate: " + e.err.Error()
}

func (e *certError) Unwrap() error { return e.err }

var errNoCertificate = &certError{reason: ReasonNoCertificate, err: errors.New("none sent")}

// peerCreds returns the credentials for dialling remote, and whether the
// link may dial it at all: only the peers it was configured with.
func peerCreds(peers map[netip.AddrPort]*Credentials, def *Credentials, remote netip.AddrPort) (*Credentials, bool) {
	c, ok := peers[remote]
	if !ok {
		return nil, false
	}
	if c == nil {
		c = def
	}
	return c, c != nil
}
