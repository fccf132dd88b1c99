package dtlslink

import (
	"crypto/x509"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"
)

type x509Cert = x509.Certificate

func parseCert(raw []byte) (*x509.Certificate, error) { return x509.ParseCertificate(raw) }

// Stats counts what a link did since it was opened.
type Stats struct {
	// Sessions up now, and sessions still handshaking.
	Sessions, Handshaking int
	// Opened and Closed count sessions that came up and that ended.
	Opened, Closed uint64
	// Refused counts handshakes that failed, by reason (Reasons).
	Refused                       map[string]uint64
	RxPackets, RxBytes, RxBatches uint64
	// RxTruncated: records larger than the caller's buffer, dropped.
	RxTruncated                   uint64
	TxPackets, TxBytes, TxBatches uint64
	// TxDropped: packets for a path without a session that may not be
	// dialled, or queued beyond the handshake's queue. TxErrors: records
	// DTLS failed to send.
	TxDropped, TxErrors uint64
	// NoSession counts packets for paths the link may not dial and that
	// have no session (a peer gateway that went away).
	NoSession uint64
	// RxUnknown counts datagrams that are no record of a session: an
	// unknown connection ID, an address without a session that sent no
	// ClientHello, a refused new session.
	RxUnknown uint64
	// RxDiscarded counts records of a session that failed authentication
	// or the replay check, discarded silently (RFC 6347 4.1.2.7).
	RxDiscarded uint64
}

type counters struct {
	opened, closed                             atomic.Uint64
	refused                                    [12]atomic.Uint64
	rxPackets, rxBytes, rxBatches, rxTruncated atomic.Uint64
	txPackets, txBytes, txBatches              atomic.Uint64
	txDropped, txErrors, noSession             atomic.Uint64
	rxUnknown, rxErrors, rxDiscarded           atomic.Uint64
}

// Stats returns a snapshot of the link's counters.
func (l *Link) Stats() Stats {
	c := &l.stats
	s := Stats{
		Opened: c.opened.Load(), Closed: c.closed.Load(), Refused: map[string]uint64{},
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(), RxBatches: c.rxBatches.Load(), RxTruncated: c.rxTruncated.Load(),
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(), TxBatches: c.txBatches.Load(),
		TxDropped: c.txDropped.Load(), TxErrors: c.txErrors.Load(), NoSession: c.noSession.Load(),
		RxUnknown: c.rxUnknown.Load(), RxDiscarded: c.rxDiscarded.Load(),
	}
	for i, r := range Reasons {
		s.Refused[r] = c.refused[i].Load()
	}
	l.mu.Lock()
	for _, x := range l.byCID {
		if x.up.Load() {
			s.Sessions++
		} else {
			s.Handshaking++
		}
	}
	l.mu.Unlock()
	return s
}

// SessionInfo describes one session.
type SessionInfo struct {
	// Path is the peer as the engine knows it: fixed for the session.
	Path netip.AddrPort `json:"path"`
	// Remote is where the peer is now (a NAT rebinding moves it).
	Remote   netip.AddrPort `json:"remote"`
	Dialled  bool           `json:"dialled"`
	Up       bool           `json:"up"`
	Identity string         `json:"identity,omitempty"`
	Cipher   string         `json:"cipher,omitempty"`
	Since    time.Time      `json:"since"`
}

// Sessions lists the sessions, by path.
func (l *Link) Sessions() []SessionInfo {
	l.mu.Lock()
	all := make([]*session, 0, len(l.byPath))
	for _, s := range l.byPath {
		all = append(all, s)
	}
	l.mu.Unlock()
	out := make([]SessionInfo, 0, len(all))
	for _, s := range all {
		si := SessionInfo{Path: s.key, Remote: *s.remote.Load(), Dialled: s.dialled, Up: s.up.Load(), Since: s.since}
		if si.Up {
			// peer and cipher are written before up is set.
			si.Identity, si.Cipher = s.peer, s.cipher
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path.Compare(out[j].Path) < 0 })
	return out
}
