package main

import (
	"errors"
	"fmt"
	"runtime/debug"
	"testing"
)

func TestGCDefaults(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	v2, v1 := cgroupMemoryFiles[0], cgroupMemoryFiles[1]
	for _, c := range []struct {
		name     string
		env      map[string]string
		files    map[string]string
		gc       int
		memLimit int64
	}{
		{"no cgroup limit", nil, map[string]string{v2: "max\n"}, daemonGCPercent, 0},
		{"cgroup v2 limit", nil, map[string]string{v2: "1073741824\n"}, daemonGCPercent, 1073741824 / 10 * 9},
		{"cgroup v1 limit", nil, map[string]string{v1: "536870912\n"}, daemonGCPercent, 536870912 / 10 * 9},
		{"cgroup v1 unlimited", nil, map[string]string{v1: "9223372036854771712\n"}, daemonGCPercent, 0},
		{"no cgroup files", nil, nil, daemonGCPercent, 0},
		{"GOGC and GOMEMLIMIT set", map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}, map[string]string{v2: "1073741824"}, 0, 0},
	} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(1 << 62)
		gc, ml := applyGCDefaults(env(c.env), files(c.files))
		if gc != c.gc || ml != c.memLimit {
			t.Errorf("%s: set GOGC %d, memory limit %d; want %d, %d", c.name, gc, ml, c.gc, c.memLimit)
		}
		wantGC := 100
		if c.gc != 0 {
			wantGC = c.gc
		}
		if got := debug.SetGCPercent(100); got != wantGC {
			t.Errorf("%s: runtime GOGC %d, want %d", c.name, got, wantGC)
		}
		wantML := int64(1 << 62)
		if c.memLimit != 0 {
			wantML = c.memLimit
		}
		if got := debug.SetMemoryLimit(-1); got != wantML {
			t.Errorf("%s: runtime memory limit %d, want %d", c.name, got, wantML)
		}
	}
}

func TestProcsDefault(t *testing.T) {
	unset := func(string) string { return "" }
	setTo4 := func(k string) string {
		if k == "GOMAXPROCS" {
			return "4"
		}
		return ""
	}
	for _, c := range []struct {
		name     string
		getenv   func(string) string
		needDTLS bool
		want     int
	}{
		{"GOMAXPROCS unset", unset, false, daemonProcs},
		{"GOMAXPROCS=4", setTo4, false, 0},
		{"a dtls:// route", unset, true, 0},
		{"GOMAXPROCS=4 and a dtls:// route", setTo4, true, 0},
	} {
		var set []int
		got := applyProcsDefault(c.getenv, c.needDTLS, func(n int) int { set = append(set, n); return 2 })
		want := []int(nil)
		if c.want != 0 {
			want = []int{c.want}
		}
		if got != c.want || fmt.Sprint(set) != fmt.Sprint(want) {
			t.Errorf("%s: returned %d, set %v; want %d, set %v", c.name, got, set, c.want, want)
		}
	}
}
