//go:build linux

package testlab

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// A namespace made by AddNS exists, InNS runs there (its own loopback, no
// other interface), and the namespace is gone once the test ends.
func TestAddNSAndInNS(t *testing.T) {
	NeedRoot(t, "network namespaces (CAP_SYS_ADMIN)")
	NeedTool(t, "ip")
	name := NSName("sgwtl")
	if !strings.HasPrefix(name, "sgwtl-") || !strings.Contains(name, "-"+strconv.Itoa(os.Getpid())+"-") {
		t.Fatalf("name %q lacks the prefix or the process id", name)
	}
	t.Run("lab", func(t *testing.T) {
		AddNS(t, name)
		var links []byte
		if err := InNS(name, func() (err error) {
			links, err = os.ReadFile("/proc/thread-self/net/dev")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(links), "lo:") || strings.Count(string(links), ":") != 1 {
			t.Fatalf("InNS saw interfaces\n%s\nwant loopback alone", links)
		}
	})
	if strings.Contains(Cmd(t, true, "ip", "netns", "list"), name) {
		t.Fatalf("namespace %s left behind", name)
	}
}
