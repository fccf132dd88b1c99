package main

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue 13 part 4: ping to a UDP port nothing listens on fails at once on
// the kernel's port unreachable (RFC 6951 5.5), saying so, instead of
// waiting for its handshake timeout. The timeout is long here: a ping that
// waits for it fails the test by its message.
func TestPingClosedPortFailsFast(t *testing.T) {
	bin := buildBinary(t)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	t0 := time.Now()
	out, err := exec.Command(bin, "ping", "--timeout", "30s", "udp://127.0.0.1:"+strconv.Itoa(port)+"/36412").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refused (ICMP protocol or port unreachable)") {
		t.Fatalf("ping a closed port: %v after %v\n%s", err, time.Since(t0).Round(time.Millisecond), out)
	}
	t.Logf("failed after %v: %s", time.Since(t0).Round(time.Millisecond), strings.TrimSpace(string(out)))
}
