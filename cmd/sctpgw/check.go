package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check a configuration as run would, without opening a socket, and exit",
		Description: `Reads the configuration exactly as run does (--config FILE or --listen
and --forward, with the same flags overriding the file), resolves forward
host names, compiles every ACL, builds every route's SCTP settings and
checks the routes against each other (one UDP socket, no port served by two
routes). It prints the plan and exits 0, or prints the first problem with
its field, value and what is expected and exits 1: run it in CI before a
deploy. Binding (a port already in use, raw socket privilege) is only
checked by run.

--no-resolve checks everything but the lookup of forward host names, for
a configuration whose names resolve only where it runs (a Kubernetes
Service name checked outside the cluster): a name must still be a valid
host name, and distinct names count as distinct hosts.`,
		Flags: append(configFlags(), &cli.BoolFlag{Name: "no-resolve", EnvVars: []string{"SCTPGW_NO_RESOLVE"},
			Usage: "do not look forward host names up (check a configuration offline); everything else is checked"}),
		Action: func(c *cli.Context) error {
			var resolve func(string) (netip.Addr, error)
			if c.Bool("no-resolve") {
				resolve = gateway.StandInResolver()
			}
			plan, err := planFromFlags(c, resolve)
			if err != nil {
				return err
			}
			printPlan(c.App.Writer, plan)
			return nil
		},
	}
}

// forwardNames says what the forward side's host names resolved to, or
// that they were not looked up (--no-resolve); "" for literal addresses.
func forwardNames(e gateway.Endpoint) string {
	var s []string
	for i, h := range e.Hosts {
		switch a := e.Addrs[i]; {
		case h == a.String():
		case gateway.IsStandIn(a):
			s = append(s, h+" not resolved (--no-resolve)")
		default:
			s = append(s, h+" is "+a.String())
		}
	}
	return strings.Join(s, ", ")
}

func printPlan(w io.Writer, p *gateway.Plan) {
	for _, r := range p.Routes {
		fmt.Fprintf(w, "route %s: %s -> %s", r.Name, r.Listen, r.Forward)
		if names := forwardNames(r.Forward); names != "" {
			fmt.Fprintf(w, " (%s)", names)
		}
		fmt.Fprintln(w)
		e := r.SCTP
		fmt.Fprintf(w, "  sctp: streams out %d in %d, rto %v..%v (initial %v), max_retrans %d, hb_interval %v, send_buffer %d; dial_timeout %v\n",
			e.OutStreams, e.MaxInStreams, time.Duration(e.RTOMin), time.Duration(e.RTOMax), time.Duration(e.RTOInitial), e.MaxRetrans,
			time.Duration(e.HBInterval), e.SendBuffer, r.DialTimeout)
		if a := r.Auth; a != nil {
			fmt.Fprintf(w, "  auth: SCTP-AUTH on the udp:// side, key file %s, keys %v, hmac %s\n", a.KeyFile, a.Keys, strings.Join(a.HMACs, ", "))
		}
		if r.Policy == nil {
			fmt.Fprintln(w, "  acl: none (everyone is admitted)")
			continue
		}
		fmt.Fprintf(w, "  acl: %d rules, default %s\n", len(r.Policy.Rules()), r.Policy.Default())
		for _, wn := range r.Policy.Warnings() {
			fmt.Fprintf(w, "  warning: acl: %s\n", wn)
		}
	}
	if p.NeedUDP {
		udp := "port 9899 of every address (the default)"
		if p.UDP.IsValid() {
			udp = p.UDP.String()
		}
		fmt.Fprintf(w, "udp socket: %s\n", udp)
	}
	if p.NeedNative {
		fmt.Fprintf(w, "native SCTP: ports %v (raw sockets: root or CAP_NET_RAW)\n", p.NativePorts)
	}
	admin := p.Admin
	if admin == "" {
		admin = "off"
	}
	fmt.Fprintf(w, "admin: %s\nlog: %s, %s\nconfiguration OK\n", admin, p.Log.Levels, p.Log.Format)
}
