package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/sctpgw/sctpgw/metrics"
)

// buildInfo reads the module version, the VCS revision and time the Go
// toolchain stamped into the binary.
func buildInfo() (info metrics.BuildInfo, when string, modified bool) {
	return describeBuild(debug.ReadBuildInfo())
}

func describeBuild(bi *debug.BuildInfo, ok bool) (info metrics.BuildInfo, when string, modified bool) {
	info = metrics.BuildInfo{Version: "unknown", Revision: "unknown", GoVersion: "unknown"}
	if !ok {
		return info, "", false
	}
	info.GoVersion = bi.GoVersion
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return info, when, modified
}

// versionText is what --version prints, one line.
func versionText() string { return formatVersion(buildInfo()) }

func formatVersion(info metrics.BuildInfo, when string, modified bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sctpgw %s", info.Version)
	if info.Revision != "unknown" {
		fmt.Fprintf(&b, ", revision %s", info.Revision)
		if modified {
			b.WriteString(" (modified)")
		}
	}
	if when != "" {
		fmt.Fprintf(&b, ", committed %s", when)
	}
	fmt.Fprintf(&b, ", built with %s", info.GoVersion)
	return b.String()
}
