package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// The daemon's side of systemd's service notification protocol
// (sd_notify(3)), for a unit with Type=notify: READY=1 once every route
// listens, STOPPING=1 when a drain starts, and, under WatchdogSec=, a
// WATCHDOG=1 keep-alive for as long as the stack's event loop answers.
// Without NOTIFY_SOCKET (not under systemd) every call is a no-op.

// notifier sends the daemon's state to systemd.
type notifier struct {
	log *slog.Logger
}

func (n notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		// A notify socket that cannot be written leaves systemd waiting
		// for readiness: say why where the operator looks.
		n.log.Warn("sd_notify", "state", state, "err", err)
	}
}

// ready tells systemd the daemon serves its routes: the gateway is up, so
// every route listens (gateway.New returns only then).
func (n notifier) ready(routes int) {
	n.send(fmt.Sprintf("READY=1\nSTATUS=serving %d routes", routes))
}

// stopping tells systemd the drain has begun, so it does not count the
// drain (up to drain_timeout) as a hung stop before TimeoutStopSec.
func (n notifier) stopping(timeout time.Duration) {
	n.send(fmt.Sprintf("STOPPING=1\nSTATUS=draining (at most %v)", timeout))
}

// watchdog sends WATCHDOG=1 at half the unit's WatchdogSec for as long as
// alive reports true and ctx lasts. alive blocks while the stack's event
// loop is stuck, so a wedged daemon stops the keep-alives and systemd
// restarts it. Without WatchdogSec it returns at once.
func (n notifier) watchdog(ctx context.Context, alive func() bool) {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("sd_notify watchdog", "err", err)
		return
	}
	if every == 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive() {
				n.send("WATCHDOG=1")
			}
		}
	}
}
