package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// DefaultAuthKeyPoll is how often a running gateway looks at its key files
// for changes (Options.AuthKeyPoll).
const DefaultAuthKeyPoll = 10 * time.Second

// routeAuth is what the gateway keeps of a route's key file.
type routeAuth struct {
	route string
	file  string
	keys  *engine.AuthKeys
	stamp keyFileStamp
}

// setupAuth gives route r the keys of its plan, on its udp:// sides.
func (g *Gateway) setupAuth(r *route, rp RoutePlan, listenUDP, forwardUDP bool) error {
	keys, err := newAuthKeys(rp.Auth.Keys)
	if err != nil {
		return fmt.Errorf("gateway: route %s: auth: %w", rp.Name, err)
	}
	ac := engine.AuthConfig{Keys: keys, HMACs: rp.Auth.hmacIDs, Required: true}
	if listenUDP {
		r.Ingress.Auth = ac
	}
	if forwardUDP {
		r.Egress.Auth = ac
	}
	r.Auth = keys
	ra := &routeAuth{route: rp.Name, file: rp.Auth.KeyFile, keys: keys}
	if fi, err := os.Stat(ra.file); err == nil {
		ra.stamp = stampOf(fi)
	}
	g.auth = append(g.auth, ra)
	g.log.Info("route authenticates its tunnel (SCTP-AUTH)", "route", rp.Name, "key_file", rp.Auth.KeyFile, "keys", fmt.Sprint(rp.Auth.Keys))
	return nil
}

// ReloadAuthKeys reads every route's key file again and gives running and
// future associations its keys: added keys are accepted at once, the active
// one signs from now on, and keys no longer listed are deleted. Pairs stay
// up as long as each peer holds the key the other signs with (rotate by
// adding a key id everywhere, then making it active, then removing the old
// one). A file that fails its checks changes nothing; the error names it.
func (g *Gateway) ReloadAuthKeys() error {
	var errs []error
	for _, ra := range g.auth {
		if err := g.reloadAuth(ra, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reloadAuth applies ra's key file; unless force, only when it changed.
func (g *Gateway) reloadAuth(ra *routeAuth, force bool) error {
	fi, err := os.Stat(ra.file)
	if err != nil {
		return fmt.Errorf("route %s: auth key file: %w", ra.route, err)
	}
	stamp := stampOf(fi)
	if !force && stamp == ra.stamp {
		return nil
	}
	ra.stamp = stamp
	keys, err := LoadKeyFile(ra.file)
	if err != nil {
		return fmt.Errorf("route %s: auth key file kept as it was: %w", ra.route, err)
	}
	var applied error
	if err := stackhost.Do(g.st, func(*engine.Host, time.Time) { applied = applyKeys(ra.keys, keys) }); err != nil {
		return err
	}
	if applied != nil {
		return fmt.Errorf("route %s: auth keys: %w", ra.route, applied)
	}
	g.log.Info("auth keys loaded", "route", ra.route, "key_file", ra.file, "keys", fmt.Sprint(keys))
	return nil
}

// watchAuthKeys reloads a key file when it changes, every poll, until ctx
// ends: a Kubernetes secret update or an operator's edit reaches the
// gateway without a restart or a signal.
func (g *Gateway) watchAuthKeys(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ra := range g.auth {
			if err := g.reloadAuth(ra, false); err != nil {
				g.log.Error("auth keys", "err", err)
			}
		}
	}
}
