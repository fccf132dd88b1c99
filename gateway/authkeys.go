package gateway

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// SCTP-AUTH (RFC 4895) on a route's tunnel side: the key file, its checks,
// and how a changed file reaches the running associations.
//
// A key file holds one endpoint-pair shared key per line:
//
//	# sctpgw SCTP-AUTH keys: <key id> <secret in hex> [active]
//	1 3f5c0e...e1  active
//	2 9a41d2...07
//
// The secret is at least 16 bytes (32 hex digits; `openssl rand -hex 32`
// makes a good one). The key marked active signs what the gateway sends;
// every key listed is accepted. With a single key the mark may be left out.
// The file must not be readable by group or others.

// Bounds of a key file.
const (
	MinKeyLen   = 16
	MaxKeyLen   = 1024
	maxKeyLines = 64
	maxKeyFile  = 256 << 10
)

// AuthConfig is a route's auth block.
type AuthConfig struct {
	// KeyFile is the path of the key file.
	KeyFile string `yaml:"key_file"`
	// HMAC is the algorithm offered first: sha256 (default) or sha1.
	// HMAC-SHA-1 is always offered too (RFC 4895 6.1 makes it mandatory);
	// the peer chooses from the list.
	HMAC string `yaml:"hmac"`
}

// AuthPlan is a route's auth block, checked: its key file read.
type AuthPlan struct {
	KeyFile string
	// HMACs are the algorithms offered, in order: "sha256", "sha1".
	HMACs []string
	Keys  []KeyEntry

	hmacIDs []wire.HMACID // HMACs as the engine takes them
}

// KeyEntry is one key of a key file.
type KeyEntry struct {
	ID     uint16
	Secret []byte
	Active bool
}

// GoString is String: %#v must not print the secret either.
func (k KeyEntry) GoString() string { return k.String() }

// String names the key without its secret.
func (k KeyEntry) String() string {
	if k.Active {
		return fmt.Sprintf("%d (active)", k.ID)
	}
	return strconv.Itoa(int(k.ID))
}

// ErrKeyFileMode: the key file can be read by group or others.
var ErrKeyFileMode = errors.New("readable by group or others")

func (a *AuthConfig) plan() (*AuthPlan, error) {
	if a.KeyFile == "" {
		return nil, errors.New("key_file: missing: SCTP-AUTH needs a key file")
	}
	p := &AuthPlan{KeyFile: a.KeyFile}
	switch a.HMAC {
	case "", "sha256":
		p.HMACs, p.hmacIDs = []string{"sha256", "sha1"}, []wire.HMACID{wire.HMACSHA256, wire.HMACSHA1}
	case "sha1":
		p.HMACs, p.hmacIDs = []string{"sha1"}, []wire.HMACID{wire.HMACSHA1}
	default:
		return nil, fmt.Errorf("hmac: %q: expected sha256 or sha1", a.HMAC)
	}
	keys, err := LoadKeyFile(a.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("key_file: %w", err)
	}
	p.Keys = keys
	return p, nil
}

// LoadKeyFile reads and checks a key file. Errors name the file and the
// line, never a secret.
func LoadKeyFile(path string) ([]KeyEntry, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w (mode %04o): chmod 600 it (on Kubernetes, defaultMode: 0400)", path, ErrKeyFileMode, perm)
	}
	if fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("%s: %d bytes, a key file is at most %d", path, fi.Size(), maxKeyFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	keys, err := ParseKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// ParseKeys reads the lines of a key file.
func ParseKeys(b []byte) ([]KeyEntry, error) {
	var keys []KeyEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFile)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		k, err := parseKeyLine(f)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if slices.ContainsFunc(keys, func(o KeyEntry) bool { return o.ID == k.ID }) {
			return nil, fmt.Errorf("line %d: key id %d given twice", line, k.ID)
		}
		if len(keys) == maxKeyLines {
			return nil, fmt.Errorf("line %d: more than %d keys", line, maxKeyLines)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	active := 0
	for _, k := range keys {
		if k.Active {
			active++
		}
	}
	switch {
	case len(keys) == 0:
		return nil, errors.New("no key: expected lines of \"<key id> <secret in hex> [active]\"")
	case active > 1:
		return nil, fmt.Errorf("%d keys marked active: one signs", active)
	case active == 0 && len(keys) > 1:
		return nil, errors.New("several keys and none marked active: mark the one to send with")
	case active == 0:
		keys[0].Active = true
	}
	return keys, nil
}

func parseKeyLine(f []string) (KeyEntry, error) {
	var k KeyEntry
	if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "active") {
		return k, errors.New("expected \"<key id> <secret in hex> [active]\"")
	}
	id, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return k, fmt.Errorf("key id %q: expected 0 to 65535", f[0])
	}
	secret, err := hex.DecodeString(f[1])
	if err != nil {
		return k, fmt.Errorf("key %d: the secret is not hex", id)
	}
	if len(secret) < MinKeyLen || len(secret) > MaxKeyLen {
		return k, fmt.Errorf("key %d: %d bytes, expected %d to %d (openssl rand -hex 32)", id, len(secret), MinKeyLen, MaxKeyLen)
	}
	return KeyEntry{ID: uint16(id), Secret: secret, Active: len(f) == 3}, nil
}

// newAuthKeys makes the engine's key set of a route.
func newAuthKeys(keys []KeyEntry) (*engine.AuthKeys, error) {
	k := engine.NewAuthKeys()
	return k, applyKeys(k, keys)
}

// applyKeys makes k hold exactly keys, the active one active: new and
// changed keys first, then the active switch, then the removals (the active
// key cannot be deleted), so that associations never lack the key they
// sign with. It runs on the goroutine that drives the Host.
func applyKeys(k *engine.AuthKeys, keys []KeyEntry) error {
	var active uint16
	for _, e := range keys {
		if err := k.Add(e.ID, e.Secret); err != nil {
			return err
		}
		if e.Active {
			active = e.ID
		}
	}
	if err := k.SetActive(active); err != nil {
		return err
	}
	for _, id := range k.IDs() {
		if !slices.ContainsFunc(keys, func(e KeyEntry) bool { return e.ID == id }) {
			if err := k.Delete(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyFileStamp is what tells a changed key file: a rewrite changes the
// modification time or the size; Kubernetes' secret volumes swap a symlink
// to a new file, which Stat follows.
type keyFileStamp struct {
	mod  int64
	size int64
}

func stampOf(fi fs.FileInfo) keyFileStamp {
	return keyFileStamp{mod: fi.ModTime().UnixNano(), size: fi.Size()}
}
