package dtlslink

import (
	"crypto/tls"
	"net"
	"net/netip"

	"github.com/pion/dtls/v4"
	cryptosuite "github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/protocol"
)

// suites are AEAD only, so RecordOverhead holds: forward secrecy first.
var (
	certSuites = []cryptosuite.ID{
		cryptosuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cryptosuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		cryptosuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, cryptosuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
	pskSuites = []cryptosuite.ID{cryptosuite.TLS_PSK_WITH_AES_128_GCM_SHA256}
)

// common are the options of both sides. cid is the connection ID the
// session gives its peer (RFC 9146): fixed per session, so the link can
// route the peer's records to it by that ID.
func (l *Link) common(psk bool, cid string) []dtls.Option {
	o := []dtls.Option{
		dtls.WithMinVersion(protocol.Version1_2), dtls.WithMaxVersion(protocol.Version1_2),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithConnectionID(func() []byte { return []byte(cid) }, dtls.CIDPathMigrationRRC),
		dtls.WithLoggerFactory(l.cfg.PionLogger),
	}
	if psk {
		return append(o, dtls.WithCipherSuites(pskSuites...))
	}
	return append(o, dtls.WithCipherSuites(certSuites...))
}

// serverOptions read the credentials at each handshake, so a reload
// reaches the sessions accepted after it.
func (l *Link) serverOptions(cid string) []dtls.ServerOption {
	var o []dtls.ServerOption
	for _, c := range l.common(l.psk, cid) {
		o = append(o, c)
	}
	if l.psk {
		return append(o, dtls.WithPSK(nil, func(ids [][]byte) (*dtls.PSK, error) {
			c := l.creds.Load()
			for _, id := range ids {
				if string(id) == string(c.PSKIdentity) {
					return &dtls.PSK{Identity: id, Key: c.PSK}, nil
				}
			}
			return nil, nil
		}))
	}
	return append(o,
		dtls.WithGetCertificate(func(*dtls.ClientHelloInfo) (*tls.Certificate, error) { return l.creds.Load().Certificate, nil }),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509Cert) error {
			return verifyPeer(l.creds.Load(), raw, l.cfg.Now())
		}))
}

func (l *Link) clientOptions(c *Credentials, cid string) []dtls.ClientOption {
	var o []dtls.ClientOption
	for _, x := range l.common(c.IsPSK(), cid) {
		o = append(o, x)
	}
	if c.IsPSK() {
		return append(o, dtls.WithPSK(func() ([]dtls.PSK, error) {
			return []dtls.PSK{{Identity: c.PSKIdentity, Key: c.PSK}}, nil
		}, nil))
	}
	return append(o,
		dtls.WithCertificates(*c.Certificate),
		// The chain is verified by verifyPeer, against these credentials,
		// with typed errors for the refusal counters.
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509Cert) error {
			return verifyPeer(c, raw, l.cfg.Now())
		}))
}

// peerOf names the peer of an established session: its certificate's
// subject, or the pre-shared key's identity.
func peerOf(st dtls.State, c *Credentials) string {
	if len(st.PeerCertificates) > 0 {
		if cert, err := parseCert(st.PeerCertificates[0]); err == nil {
			return cert.Subject.String()
		}
	}
	if c.IsPSK() {
		return "psk:" + string(c.PSKIdentity)
	}
	return ""
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
