//go:build linux

package main

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ownerRule is a table an operator would write by hand for a daemon that
// cannot install its own (no CAP_NET_ADMIN), from sctpgw's refusal:
//
//	nft add rule inet sctpgw output meta l4proto sctp sctp sport { P } meta skuid U accept
//	nft add rule inet sctpgw output meta l4proto sctp sctp sport { P } drop
//
// or, inverted, the single rule "... sctp sport P meta skuid != U drop".
type ownerRule struct {
	c *nftables.Conn
	t *nftables.Table
}

func installOwnerRule(ns netns.NsHandle, port uint16, uid int, inverted bool) (*ownerRule, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return nil, err
	}
	t := c.AddTable(&nftables.Table{Name: "sctpgw", Family: nftables.TableFamilyINet})
	policy := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityRaw, Policy: &policy})
	match := func() []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_SCTP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
		}
	}
	owner := func(op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
			&expr.Cmp{Op: op, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(uid))},
		}
	}
	drop := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
	if inverted {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(append(match(), owner(expr.CmpOpNeq)...), drop...)})
	} else {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(append(match(), owner(expr.CmpOpEq)...), &expr.Verdict{Kind: expr.VerdictAccept})})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(match(), drop...)})
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("operator's owner rule: %w", err)
	}
	return &ownerRule{c: c, t: t}, nil
}

func (o *ownerRule) remove() {
	o.c.DelTable(o.t)
	o.c.Flush()
}
