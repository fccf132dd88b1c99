//go:build linux

package portguard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Rules is the installed table: its port set can change, its counter can be
// read, and Remove deletes it. Safe for concurrent use.
type Rules struct {
	mu    sync.Mutex
	conn  *nftables.Conn
	table *nftables.Table
	chain *nftables.Chain
	set   *nftables.Set
	mark  uint32
	ports []uint16 // sorted
	gone  bool
}

// InstallRules creates the table with ports in its set, in one netlink
// transaction: the rule is in place whole or not at all. It needs
// CAP_NET_ADMIN in the namespace's owning user namespace.
func InstallRules(cfg RulesConfig, ports []uint16) (*Rules, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Mark == 0 {
		cfg.Mark = DefaultMark
	}
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if cfg.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(cfg.NetNS))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("portguard: netlink: %w", err)
	}
	r := &Rules{conn: conn, mark: cfg.Mark}
	r.table = &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyINet}
	// Add, delete, add: one transaction that replaces a leftover table of
	// the same name (nft's own idiom), since deleting a table that is not
	// there would fail the whole batch.
	conn.AddTable(r.table)
	conn.DelTable(r.table)
	conn.AddTable(r.table)
	r.set = &nftables.Set{Table: r.table, Name: setName, KeyType: nftables.TypeInetService}
	for _, p := range ports {
		r.ports = insertPort(r.ports, p)
	}
	if err := conn.AddSet(r.set, portElements(r.ports)); err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("portguard: set %s: %w", setName, err)
	}
	policy := nftables.ChainPolicyAccept
	// Priority raw: before conntrack, so a dropped reply leaves no
	// conntrack entry behind either.
	r.chain = conn.AddChain(&nftables.Chain{
		Name: chainName, Table: r.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityRaw, Policy: &policy,
	})
	conn.AddRule(&nftables.Rule{Table: r.table, Chain: r.chain, Exprs: ruleExprs(r.set, cfg.Mark)})
	if err := conn.Flush(); err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("portguard: installing table inet %s: %w", cfg.Table, permHint(err))
	}
	return r, nil
}

// ruleExprs is "meta l4proto sctp sctp sport @set meta mark != mark counter
// drop".
func ruleExprs(set *nftables.Set, mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_SCTP}},
		// The SCTP source port: the first two bytes of the common header.
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

func portElements(ports []uint16) []nftables.SetElement {
	els := make([]nftables.SetElement, len(ports))
	for i, p := range ports {
		els[i] = nftables.SetElement{Key: binaryutil.BigEndian.PutUint16(p)}
	}
	return els
}

// permHint names the capability when the kernel refused for lack of it.
func permHint(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w (nftables needs CAP_NET_ADMIN)", err)
	}
	return err
}

// SetPort adds port to the set or takes it out.
func (r *Rules) SetPort(port uint16, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return errors.New("portguard: table removed")
	}
	i, found := slices.BinarySearch(r.ports, port)
	if found == on {
		return nil
	}
	el := portElements([]uint16{port})
	var err error
	if on {
		err = r.conn.SetAddElements(r.set, el)
	} else {
		err = r.conn.SetDeleteElements(r.set, el)
	}
	if err == nil {
		err = r.conn.Flush()
	}
	if err != nil {
		return fmt.Errorf("portguard: port %d in set %s of table inet %s: %w", port, setName, r.table.Name, err)
	}
	if on {
		r.ports = slices.Insert(r.ports, i, port)
	} else {
		r.ports = slices.Delete(r.ports, i, i+1)
	}
	return nil
}

// Others lists the other inet tables of the namespace.
func (r *Rules) Others() ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts, err := r.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("portguard: listing tables: %w", err)
	}
	var out []string
	for _, t := range ts {
		if t.Name != r.table.Name {
			out = append(out, t.Name)
		}
	}
	return out, nil
}

// Ports returns the ports in the set, ascending.
func (r *Rules) Ports() []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ports)
}

// Dropped reads the rule's counter: the packets the kernel sent from a
// guarded port and the rule dropped.
func (r *Rules) Dropped() (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return 0, errors.New("portguard: table removed")
	}
	rules, err := r.conn.GetRules(r.table, r.chain)
	if err != nil {
		return 0, fmt.Errorf("portguard: reading the rule of table inet %s: %w", r.table.Name, err)
	}
	for _, rl := range rules {
		for _, e := range rl.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				return c.Packets, nil
			}
		}
	}
	return 0, fmt.Errorf("portguard: table inet %s: the rule or its counter is gone", r.table.Name)
}

// Remove deletes the table. Removing twice is harmless.
func (r *Rules) Remove() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return nil
	}
	r.gone = true
	r.conn.DelTable(r.table)
	err := r.conn.Flush()
	r.conn.CloseLasting()
	if err != nil {
		return fmt.Errorf("portguard: deleting table inet %s: %w", r.table.Name, err)
	}
	return nil
}

// String is the table in nft's syntax, for the log.
func (r *Rules) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return describe(r.table.Name, r.mark, r.ports)
}

func describe(table string, mark uint32, ports []uint16) string {
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("table inet %s { set %s { type inet_service; elements = { %s } }; chain %s { type filter hook output priority raw; policy accept; "+
		"meta l4proto sctp sctp sport @%s meta mark != %#x counter drop } }",
		table, setName, strings.Join(ps, ", "), chainName, setName, mark)
}

// processAlive reports whether pid runs: signal 0 is refused with ESRCH
// only when there is no such process.
func processAlive(pid int) bool { return unix.Kill(pid, 0) != unix.ESRCH }

func installRules(c RulesConfig, ports []uint16) (ruleSet, error) {
	r, err := InstallRules(c, ports)
	if err != nil {
		return nil, err
	}
	return r, nil
}
