//go:build linux

package ksock

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SCTP-AUTH socket options of <linux/sctp.h> (RFC 6458 8.3).
const (
	optAuthChunk      = 21
	optAuthKey        = 23
	optAuthActiveKey  = 24
	optAuthDeleteKey  = 25
	optPeerAuthChunks = 26
)

// SetAuth gives the socket's endpoint the SCTP-AUTH key id (SCTP_AUTH_KEY),
// makes it the active one (SCTP_AUTH_ACTIVE_KEY), deletes the kernel's null
// key 0 (SCTP_AUTH_DELETE_KEY) so that only this key authenticates, and
// requires chunks from the peer authenticated (SCTP_AUTH_CHUNK). The
// socket's namespace must have had net.sctp.auth_enable=1 when it was
// created. Call it before Connect or Listen.
func (c *Conn) SetAuth(id uint16, key []byte, chunks []byte) error {
	for _, t := range chunks {
		if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optAuthChunk, string([]byte{t})); err != nil {
			return fmt.Errorf("ksock: SCTP_AUTH_CHUNK %d: %w (is net.sctp.auth_enable 1?)", t, err)
		}
	}
	// struct sctp_authkey: sca_assoc_id (SCTP_FUTURE_ASSOC), sca_keynumber,
	// sca_keylength, sca_key[].
	ak := make([]byte, 8+len(key))
	binary.NativeEndian.PutUint16(ak[4:], id)
	binary.NativeEndian.PutUint16(ak[6:], uint16(len(key)))
	copy(ak[8:], key)
	if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optAuthKey, string(ak)); err != nil {
		return fmt.Errorf("ksock: SCTP_AUTH_KEY: %w", err)
	}
	// struct sctp_authkeyid: scact_assoc_id, scact_keynumber, padding.
	kid := make([]byte, 8)
	binary.NativeEndian.PutUint16(kid[4:], id)
	if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optAuthActiveKey, string(kid)); err != nil {
		return fmt.Errorf("ksock: SCTP_AUTH_ACTIVE_KEY: %w", err)
	}
	if id != 0 {
		binary.NativeEndian.PutUint16(kid[4:], 0)
		if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optAuthDeleteKey, string(kid)); err != nil {
			return fmt.Errorf("ksock: SCTP_AUTH_DELETE_KEY 0: %w", err)
		}
	}
	return nil
}

// PeerAuthChunks returns the chunk types the association's peer requires
// authenticated (SCTP_PEER_AUTH_CHUNKS): the CHUNKS parameter it sent.
func (c *Conn) PeerAuthChunks() ([]int, error) {
	// struct sctp_authchunks: gauth_assoc_id, gauth_number_of_chunks,
	// gauth_chunks[].
	buf := make([]byte, 8+256)
	l := uint32(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(c.fd), unix.IPPROTO_SCTP, optPeerAuthChunks,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return nil, fmt.Errorf("ksock: SCTP_PEER_AUTH_CHUNKS: %w", e)
	}
	n := int(binary.NativeEndian.Uint32(buf[4:8]))
	if n > int(l)-8 {
		n = max(int(l)-8, 0)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(buf[8+i])
	}
	return out, nil
}
