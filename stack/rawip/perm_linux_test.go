//go:build linux

package rawip

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

const childEnv = "RAWIP_TEST_CHILD_WITHOUT_NET_RAW"

// TestWithoutCapNetRaw runs Listen in a child process that lost CAP_NET_RAW
// (setpriv drops it from the inheritable and bounding sets, so even root's
// exec does not get it back) and checks that the error names the capability
// and how to grant it.
func TestWithoutCapNetRaw(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		_, err := Listen(Config{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Ports: []uint16{5000}})
		var pe *PermissionError
		fmt.Printf("permission-error=%v\nmessage=%v\n", errors.As(err, &pe), err)
		return
	}
	needRoot(t)
	testlab.NeedTool(t, "setpriv") // to drop CAP_NET_RAW in a child process
	cmd := exec.Command("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", "--",
		os.Args[0], "-test.run=^TestWithoutCapNetRaw$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	t.Logf("child says: %s", s)
	for _, want := range []string{"permission-error=true", "CAP_NET_RAW", "setcap cap_net_raw+ep", "--cap-add NET_RAW", "operation not permitted"} {
		if !strings.Contains(s, want) {
			t.Errorf("child output lacks %q", want)
		}
	}
}
