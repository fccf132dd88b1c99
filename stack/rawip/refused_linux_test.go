//go:build linux

package rawip

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestDialRefusedByProtocolUnreachable (issue 13 part 4): a host where
// nothing takes SCTP answers our INIT with ICMP protocol unreachable (here
// B's kernel, told by nftables to answer so whether or not its sctp module
// is loaded). The link reports it as NoticeProtoUnreachable quoting the
// INIT, and the dial fails at once with ErrPeerRefused (RFC 9260 10 ICMP8;
// Linux's connect: ECONNREFUSED) instead of retransmitting its INIT for
// minutes: the context allows a minute, so a dial that waits fails by its
// error.
func TestDialRefusedByProtocolUnreachable(t *testing.T) {
	testlab.NeedTool(t, "nft")
	lab := fsNewLab(t)
	rules := `table ip sgwproto {
	chain in {
		type filter hook input priority 0; policy accept;
		ip protocol sctp reject with icmp type prot-unreachable
	}
}`
	cmd := exec.Command("ip", "netns", "exec", lab.b, "nft", "-f", "-")
	cmd.Stdin = bytes.NewBufferString(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	cli := fsNewNode(t, lab.a, fsAddrA)
	ctx := testlab.Ctx(t, time.Minute)
	t0 := time.Now()
	_, err := cli.stack.Dial(ctx, 0, link.Path{Local: fsAddrA, Remote: fsAddrB}, 0, fsPortS1AP, stack.Options{})
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || !errors.Is(err, engine.ErrPeerRefused) {
		t.Fatalf("dial after %v: %v, want CANT_STR_ASSOC ErrPeerRefused", time.Since(t0).Round(time.Millisecond), err)
	}
	t.Logf("refused after %v: %v", time.Since(t0).Round(time.Millisecond), err)
}
