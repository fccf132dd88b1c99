//go:build linux

package rawip

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// countReplies installs nftables counters in namespace ns for what leaves it
// that could be an answer: SCTP packets, and ICMP/ICMPv6 destination
// unreachable (which a kernel sends for a protocol nobody takes). It returns
// a function reading the two counters.
func countReplies(tb testing.TB, ns string) func() (sctp, unreach int) {
	tb.Helper()
	testlab.NeedTool(tb, "nft") // to count packets leaving the namespace
	rules := `table inet sgwcount {
	counter sctp_out { }
	counter unreach_out { }
	chain out {
		type filter hook output priority 0; policy accept;
		meta l4proto sctp counter name "sctp_out"
		icmp type destination-unreachable counter name "unreach_out"
		icmpv6 type destination-unreachable counter name "unreach_out"
	}
}`
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = bytes.NewBufferString(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("nft: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`packets (\d+)`)
	read := func(name string) int {
		out := testlab.Cmd(tb, true, "ip", "netns", "exec", ns, "nft", "list", "counter", "inet", "sgwcount", name)
		m := re.FindStringSubmatch(out)
		if m == nil {
			tb.Fatalf("no packet count in %q", out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return func() (int, int) { return read("sctp_out"), read("unreach_out") }
}

// TestPortFilter: packets to ports the link does not serve are not delivered,
// are dropped by the kernel filter before user space sees them, and get no
// answer of any kind from the namespace. Ports added and removed at run time
// take effect, and packets already queued for a removed port are dropped by
// the user-space check.
func TestPortFilter(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}})
	watchdog(t, lb, 20*time.Second)
	replies := countReplies(t, lab.b)

	for _, path := range []link.Path{{Local: addrA, Remote: addrB}, {Local: addrA6, Remote: addrB6}} {
		// An INIT and a DATA to a port B does not serve, then a sentinel
		// to its port: the sentinel must be the first packet delivered.
		var foreign [][]byte
		for _, port := range []uint16{9, 5003, 36412} {
			foreign = append(foreign, initPacket(5001, port, 0x11111111), dataPacket(5001, port, 1, 1, []byte("not yours")))
		}
		sentinel := dataPacket(5001, 5002, 2, 2, []byte("sentinel "+path.Remote.String()))
		send(t, la, path, append(foreign, sentinel)...)
		if got := readOne(t, lb); !bytes.Equal(got.Buf, sentinel) {
			t.Fatalf("%v: first delivered packet %x, want the sentinel", path, got.Buf)
		}
	}
	if st := lb.Stats(); st.Filtered != 0 || st.Received != 2 {
		// The kernel filter dropped the foreign packets: user space never saw them.
		t.Errorf("B stats %+v: want 2 received and nothing filtered in user space", st)
	}

	// Ports change at run time. Packets queued for a port that is then
	// removed never reach the engine.
	if err := lb.AddPort(5003); err != nil {
		t.Fatal(err)
	}
	path := link.Path{Local: addrA, Remote: addrB}
	p5003 := dataPacket(5001, 5003, 3, 3, []byte("now served"))
	send(t, la, path, p5003)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, p5003) {
		t.Fatalf("after AddPort(5003): got %x", got.Buf)
	}
	queued := dataPacket(5001, 5003, 3, 4, []byte("queued, then unserved"))
	send(t, la, path, queued, queued, queued)
	time.Sleep(100 * time.Millisecond) // let them reach B's receive queue
	if err := lb.RemovePort(5003); err != nil {
		t.Fatal(err)
	}
	sentinel := dataPacket(5001, 5002, 2, 5, []byte("second sentinel"))
	send(t, la, path, queued, sentinel)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, sentinel) {
		t.Fatalf("after RemovePort(5003): got %x, want the sentinel", got.Buf)
	}
	if st := lb.Stats(); st.Filtered != 3 {
		t.Errorf("B stats %+v: want the 3 queued packets filtered in user space", st)
	}
	if ports := lb.Ports(); len(ports) != 1 || ports[0] != 5002 {
		t.Errorf("Ports() = %v", ports)
	}

	// Nothing answered, neither the link nor the kernel.
	if sctp, unreach := replies(); sctp != 0 || unreach != 0 {
		t.Fatalf("namespace B sent %d SCTP packets and %d ICMP unreachables, want none", sctp, unreach)
	}
	// The counter does count: one packet from B's link shows up.
	send(t, lb, link.Path{Local: addrB, Remote: addrA}, dataPacket(5002, 5001, 4, 4, []byte("control")))
	if sctp, _ := replies(); sctp != 1 {
		t.Fatalf("control packet: SCTP counter %d, want 1", sctp)
	}
}

// TestAddressFilter: with Config.Addrs, packets to another local address of
// the namespace are not delivered.
func TestAddressFilter(t *testing.T) {
	lab := newLab(t)
	testlab.Cmd(t, true, "ip", "-n", lab.b, "addr", "add", "198.18.0.3/24", "dev", "vb")
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Addrs: []netipAddr{addrB}, Ports: []uint16{5002}})
	watchdog(t, lb, 20*time.Second)
	other := dataPacket(5001, 5002, 1, 1, []byte("to .3"))
	send(t, la, link.Path{Local: addrA, Remote: mustAddr("198.18.0.3")}, other)
	sentinel := dataPacket(5001, 5002, 1, 2, []byte("to .2"))
	send(t, la, link.Path{Local: addrA, Remote: addrB}, sentinel)
	// The packet to .3 may come after the sentinel (A resolves .3's MAC
	// first), and is only counted when B reads: sentinels go until it was.
	for i := 0; ; i++ {
		if got := readOne(t, lb); !bytes.Equal(got.Buf, sentinel) || got.Path.Local != addrB {
			t.Fatalf("got %x on %v, want the sentinel", got.Buf, got.Path)
		}
		if lb.Stats().Filtered > 0 || i == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
		send(t, la, link.Path{Local: addrA, Remote: addrB}, sentinel)
	}
	if st := lb.Stats(); st.Filtered != 1 {
		t.Errorf("B stats %+v, want 1 filtered", st)
	}
}

// TestMark: Config.Mark is on every packet we send, which is what lets an
// nftables rule tell our packets from kernel SCTP's (README).
func TestMark(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}, Mark: 0x5c7})
	rules := `table inet sgwmark {
	counter marked { }
	counter unmarked { }
	chain out {
		type filter hook output priority 0; policy accept;
		meta l4proto sctp meta mark 0x5c7 counter name "marked"
		meta l4proto sctp meta mark != 0x5c7 counter name "unmarked"
	}
}`
	cmd := exec.Command("ip", "netns", "exec", lab.a, "nft", "-f", "-")
	cmd.Stdin = bytes.NewBufferString(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		testlab.Missing(t, "nft -f: %v\n%s", err, out)
	}
	send(t, la, link.Path{Local: addrA, Remote: addrB}, dataPacket(5001, 5002, 1, 1, []byte("v4")))
	send(t, la, link.Path{Local: addrA6, Remote: addrB6}, dataPacket(5001, 5002, 1, 1, []byte("v6")))
	out := testlab.Cmd(t, true, "ip", "netns", "exec", lab.a, "nft", "list", "table", "inet", "sgwmark")
	if !regexp.MustCompile(`counter marked \{\s*packets 2 `).MatchString(out) || !regexp.MustCompile(`counter unmarked \{\s*packets 0 `).MatchString(out) {
		t.Fatalf("want 2 marked, 0 unmarked packets:\n%s", out)
	}
}

// TestPortFilterManyPorts: with more scattered ports than the kernel filter
// keeps ranges, every served port still gets its packets, a foreign port
// inside the cover is caught by the user-space check, and once enough
// ports are removed the kernel filter is exact again.
func TestPortFilterManyPorts(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}})
	watchdog(t, lb, 20*time.Second)
	path := link.Path{Local: addrA, Remote: addrB}
	var many []uint16
	for p := uint16(50000); p < 50000+2*300; p += 2 { // 300 ranges of one port
		many = append(many, p)
		if err := lb.AddPort(p); err != nil {
			t.Fatal(err)
		}
	}
	if lb.kf.exact || len(lb.kf.rs) > maxKernelRanges {
		t.Fatalf("kernel filter of %d ranges, exact %v", len(lb.kf.rs), lb.kf.exact)
	}
	for _, p := range []uint16{many[0], many[150], many[299], 5002} {
		pkt := dataPacket(5001, p, 1, 1, []byte("served"))
		send(t, la, path, pkt)
		if got := readOne(t, lb); !bytes.Equal(got.Buf, pkt) {
			t.Fatalf("port %d: got %x", p, got.Buf)
		}
	}
	// Between two served ports, inside the cover: the kernel lets it
	// through, user space drops it.
	between := many[298] + 1
	if !lb.kf.admits(between) {
		t.Fatalf("port %d outside the cover %v", between, lb.kf.rs)
	}
	sentinel := dataPacket(5001, 5002, 2, 2, []byte("sentinel"))
	send(t, la, path, dataPacket(5001, between, 1, 1, []byte("foreign")), sentinel)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, sentinel) {
		t.Fatalf("got %x, want the sentinel", got.Buf)
	}
	if st := lb.Stats(); st.Filtered != 1 {
		t.Fatalf("stats %+v: want the foreign packet filtered in user space", st)
	}
	for _, p := range many[:len(many)-10] {
		if err := lb.RemovePort(p); err != nil {
			t.Fatal(err)
		}
	}
	if !lb.kf.exact {
		t.Fatalf("11 ports left, the kernel filter is still a cover: %v", lb.kf.rs)
	}
	send(t, la, path, dataPacket(5001, between, 1, 1, []byte("foreign")), dataPacket(5001, many[0], 1, 1, []byte("removed")), sentinel)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, sentinel) {
		t.Fatalf("got %x, want the sentinel", got.Buf)
	}
	if st := lb.Stats(); st.Filtered != 1 {
		t.Fatalf("stats %+v: the kernel filter must drop foreign packets again", st)
	}
}
