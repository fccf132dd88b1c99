package rto

import (
	"testing"
	"time"
)

var defaults = Config{Initial: time.Second, Min: time.Second, Max: 60 * time.Second}

func TestInitialUntilMeasured(t *testing.T) {
	e := New(defaults)
	if e.RTO() != time.Second || e.Measured() {
		t.Fatalf("RTO %v measured %v, want RTO.Initial unmeasured", e.RTO(), e.Measured())
	}
}

// TestFormulae checks rules 2 and 3 against the formulas computed here with
// small RTO.Min so the clamp does not hide the arithmetic.
func TestFormulae(t *testing.T) {
	cfg := Config{Initial: 3 * time.Second, Min: time.Millisecond, Max: time.Minute}
	e := New(cfg)
	samples := []time.Duration{100 * time.Millisecond, 140 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond}
	var srtt, rttvar float64
	for i, s := range samples {
		r := float64(s)
		if i == 0 {
			srtt, rttvar = r, r/2
		} else {
			d := srtt - r
			if d < 0 {
				d = -d
			}
			rttvar = 0.75*rttvar + 0.25*d
			srtt = 0.875*srtt + 0.125*r
		}
		e.Observe(s)
		want := time.Duration(srtt + 4*rttvar)
		if diff := e.RTO() - want; diff > time.Microsecond || diff < -time.Microsecond {
			t.Fatalf("after sample %d (%v): RTO %v, want %v", i, s, e.RTO(), want)
		}
		if diff := e.SRTT() - time.Duration(srtt); diff > time.Microsecond || diff < -time.Microsecond {
			t.Fatalf("after sample %d: SRTT %v, want %v", i, e.SRTT(), time.Duration(srtt))
		}
	}
}

func TestClampAndBackoff(t *testing.T) {
	e := New(defaults)
	e.Observe(10 * time.Millisecond)
	if e.RTO() != defaults.Min {
		t.Fatalf("RTO %v below RTO.Min %v", e.RTO(), defaults.Min)
	}
	want := defaults.Min
	for i := 0; i < 10; i++ {
		e.Backoff()
		want *= 2
		if want > defaults.Max {
			want = defaults.Max
		}
		if e.RTO() != want {
			t.Fatalf("backoff %d: RTO %v, want %v", i+1, e.RTO(), want)
		}
	}
	// A fresh measurement collapses the backoff (6.3.3 and 8.3).
	e.Observe(2 * time.Second)
	if e.RTO() >= defaults.Max {
		t.Fatalf("RTO %v still backed off after a sample", e.RTO())
	}
}

func TestZeroVarianceUsesGranularity(t *testing.T) {
	e := New(Config{Initial: time.Second, Min: 0, Max: time.Minute})
	for i := 0; i < 200; i++ {
		e.Observe(0)
	}
	if e.RTTVar() < Granularity {
		t.Fatalf("RTTVAR %v, want at least G", e.RTTVar())
	}
	if e.RTO() < 4*Granularity {
		t.Fatalf("RTO %v, want at least 4G", e.RTO())
	}
}
