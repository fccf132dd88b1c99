// Package vm boots a Linux kernel under qemu for tests: it finds the kernel
// and its modules in an unpacked Debian linux-image package, packs an
// initramfs, and runs qemu (software emulation, no KVM needed) with a NIC
// on a tap device in a network namespace, streaming what the guest prints
// on its second serial port.
package vm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kernel is an unpacked linux-image package.
type Kernel struct {
	Root    string // where the package was unpacked (dpkg-deb -x)
	Version string // 6.1.0-57-cloud-amd64
	Vmlinuz string
	modDir  string
	paths   map[string]string // module name (underscores) -> .ko path
}

// FindKernel looks for boot/vmlinuz-VERSION and lib/modules/VERSION under
// root.
func FindKernel(root string) (*Kernel, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "lib/modules/*"))
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("vm: no lib/modules/VERSION under %s", root)
	}
	sort.Strings(dirs)
	k := &Kernel{Root: root, modDir: dirs[len(dirs)-1]}
	k.Version = filepath.Base(k.modDir)
	k.Vmlinuz = filepath.Join(root, "boot", "vmlinuz-"+k.Version)
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return nil, fmt.Errorf("vm: kernel image: %w", err)
	}
	k.paths = map[string]string{}
	err = filepath.WalkDir(k.modDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".ko") {
			k.paths[modName(filepath.Base(p))] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(k.paths) == 0 {
		return nil, fmt.Errorf("vm: no uncompressed .ko modules under %s (compressed modules are not supported)", k.modDir)
	}
	return k, nil
}

func modName(file string) string {
	return strings.ReplaceAll(strings.TrimSuffix(file, ".ko"), "-", "_")
}

// Module is one module to load, after its dependencies.
type Module struct {
	Name string
	Path string
}

// LoadOrder returns names and every module they depend on, dependencies
// first, each once, skipping those already in have. A name that is not a
// module file is taken to be built into the kernel. Dependencies come from
// each module's own .modinfo "depends=" (no depmod or modules.dep needed:
// the package ships neither).
func (k *Kernel) LoadOrder(have map[string]bool, names ...string) ([]Module, error) {
	var out []Module
	var visit func(string, []string) error
	visit = func(n string, stack []string) error {
		n = strings.ReplaceAll(n, "-", "_")
		if have[n] {
			return nil
		}
		for _, s := range stack {
			if s == n {
				return fmt.Errorf("vm: module dependency cycle: %s", strings.Join(append(stack, n), " -> "))
			}
		}
		p, ok := k.paths[n]
		if !ok {
			if builtin, _ := k.builtin(n); builtin {
				have[n] = true
				return nil
			}
			return fmt.Errorf("vm: module %s: neither a module file nor built in", n)
		}
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(stack, n)); err != nil {
				return err
			}
		}
		have[n] = true
		out = append(out, Module{Name: n, Path: p})
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (k *Kernel) builtin(n string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(k.modDir, "modules.builtin"))
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if modName(filepath.Base(line)) == n {
			return true, nil
		}
	}
	return false, nil
}

// moduleDepends reads the "depends=" entry of a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vm: module %s: %w", path, err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("vm: module %s: no .modinfo", path)
	}
	b, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("vm: module %s: .modinfo: %w", path, err)
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
