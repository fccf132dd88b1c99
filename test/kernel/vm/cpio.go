package vm

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Initramfs is the files of an initramfs, written as an uncompressed cpio
// "newc" archive (the kernel's initramfs format, Documentation/
// filesystems/ramfs-rootfs-initramfs.rst). Uncompressed: the kernel only
// copies it, where unpacking tens of megabytes of gzip under TCG costs
// seconds.
type Initramfs struct {
	entries map[string]entry
}

type entry struct {
	mode         uint32 // file type and permissions, as in st_mode
	data         []byte
	src          string // host file to copy, when data is nil
	major, minor uint32 // device nodes
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeChar = 0o020000
)

// NewInitramfs returns an archive with the directories every guest needs
// and /dev/console, which the kernel opens for /init's standard streams.
func NewInitramfs() *Initramfs {
	r := &Initramfs{entries: map[string]entry{}}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "run", "bin", "etc", "lib/modules"} {
		r.Dir(d)
	}
	r.entries["dev/console"] = entry{mode: modeChar | 0o600, major: 5, minor: 1}
	return r
}

// Dir adds a directory and its parents.
func (r *Initramfs) Dir(p string) {
	p = strings.Trim(p, "/")
	for p != "" && p != "." {
		if _, ok := r.entries[p]; !ok {
			r.entries[p] = entry{mode: modeDir | 0o755}
		}
		p = path.Dir(p)
	}
}

// File adds a file with the given content and permissions.
func (r *Initramfs) File(p string, perm uint32, data []byte) {
	p = strings.Trim(p, "/")
	r.Dir(path.Dir(p))
	r.entries[p] = entry{mode: modeFile | perm, data: data}
}

// Copy adds the host file src as p.
func (r *Initramfs) Copy(p string, perm uint32, src string) {
	p = strings.Trim(p, "/")
	r.Dir(path.Dir(p))
	r.entries[p] = entry{mode: modeFile | perm, src: src}
}

// WriteTo writes the archive: parents before children, then the trailer.
func (r *Initramfs) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names) // "a" sorts before "a/b"
	cw := &countingWriter{w: w}
	for i, n := range names {
		e := r.entries[n]
		data := e.data
		if e.src != "" {
			b, err := os.ReadFile(e.src)
			if err != nil {
				return cw.n, err
			}
			data = b
		}
		if err := writeEntry(cw, uint32(i+1), n, e, data); err != nil {
			return cw.n, err
		}
	}
	err := writeEntry(cw, 0, "TRAILER!!!", entry{}, nil)
	return cw.n, err
}

// writeEntry writes one newc header (13 hex fields of 8 digits after the
// magic), the name with its NUL, padding to 4 bytes, the data, padding.
func writeEntry(w *countingWriter, ino uint32, name string, e entry, data []byte) error {
	nlink := uint32(1)
	if e.mode&modeDir == modeDir {
		nlink = 2
	}
	var h bytes.Buffer
	fmt.Fprintf(&h, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, e.mode, 0, 0, nlink, 0, len(data), 0, 0, e.major, e.minor, len(name)+1, 0)
	h.WriteString(name)
	h.WriteByte(0)
	pad(&h, int64(h.Len()))
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	var p bytes.Buffer
	pad(&p, int64(len(data)))
	_, err := w.Write(p.Bytes())
	return err
}

func pad(b *bytes.Buffer, n int64) {
	for n%4 != 0 {
		b.WriteByte(0)
		n++
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
