// Package rto estimates the retransmission timeout of one destination
// transport address (RFC 9260 6.3).
package rto

import "time"

// Config holds the RTO.* protocol parameters (RFC 9260 15, SCTP_RTOINFO).
type Config struct {
	Initial, Min, Max time.Duration
}

// Granularity is the clock granularity G of 6.3.1: RTTVAR never reads as
// zero. The engine measures in nanoseconds, so 1 ms is a conservative G.
const Granularity = time.Millisecond

// Estimator holds SRTT, RTTVAR and the current RTO, including any backoff.
// The zero value is unusable; use New.
type Estimator struct {
	cfg      Config
	srtt     time.Duration
	rttvar   time.Duration
	rto      time.Duration
	measured bool
}

// New starts with RTO = RTO.Initial (6.3.1 rule 1).
func New(cfg Config) *Estimator {
	e := &Estimator{cfg: cfg}
	e.rto = e.clamp(cfg.Initial)
	return e
}

// Observe feeds one RTT measurement. Callers apply Karn's rule (6.3.1 rule
// 5): never a sample from a retransmitted chunk.
func (e *Estimator) Observe(r time.Duration) {
	if r < 0 {
		return
	}
	if !e.measured {
		// Rule 2.
		e.srtt = r
		e.rttvar = r / 2
		e.measured = true
	} else {
		// Rule 3 with alpha = 1/8, beta = 1/4; RTTVAR uses the old SRTT.
		d := e.srtt - r
		if d < 0 {
			d = -d
		}
		e.rttvar = e.rttvar - e.rttvar/4 + d/4
		e.srtt = e.srtt - e.srtt/8 + r/8
	}
	// The G rule of 6.3.1, read as a floor: with nanosecond arithmetic
	// RTTVAR decays towards zero without ever reaching it.
	if e.rttvar < Granularity {
		e.rttvar = Granularity
	}
	e.rto = e.clamp(e.srtt + 4*e.rttvar)
}

// Backoff doubles the RTO after a T3-rtx or heartbeat timeout (6.3.3 E2,
// 8.3), up to RTO.Max.
func (e *Estimator) Backoff() {
	e.rto = e.clamp(2 * e.rto)
}

// RTO is the current retransmission timeout.
func (e *Estimator) RTO() time.Duration { return e.rto }

// SRTT is the smoothed RTT, zero before the first measurement.
func (e *Estimator) SRTT() time.Duration { return e.srtt }

// RTTVar is the RTT variation, zero before the first measurement.
func (e *Estimator) RTTVar() time.Duration { return e.rttvar }

// Measured reports whether any RTT sample has been taken.
func (e *Estimator) Measured() bool { return e.measured }

// clamp applies rules 6 and 7: at least RTO.Min, at most RTO.Max.
func (e *Estimator) clamp(d time.Duration) time.Duration {
	if d < e.cfg.Min {
		d = e.cfg.Min
	}
	if e.cfg.Max > 0 && d > e.cfg.Max {
		d = e.cfg.Max
	}
	return d
}
