// Package configs holds example route files for an edge and a core gateway;
// this test keeps them valid.
package configs

import (
	"path/filepath"
	"testing"

	"github.com/sctpgw/sctpgw/gateway"
)

func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 2 {
		t.Fatalf("found %v", files)
	}
	for _, f := range files {
		c, err := gateway.LoadConfig(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range c.Routes {
			if r.ACL == nil {
				t.Fatalf("%s: route %s has no explicit acl block", f, r.Name)
			}
			if _, err := r.SCTP.Engine(); err != nil {
				t.Fatalf("%s: route %s: %v", f, r.Name, err)
			}
		}
	}
}
