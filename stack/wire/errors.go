package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on; a *ParseError wraps one of them.
var (
	// ErrTruncated: the input ends before the structure does.
	ErrTruncated = errors.New("truncated")
	// ErrBadLength: a length field is impossible (too small, past the end, or
	// inconsistent with the structure's fixed part).
	ErrBadLength = errors.New("bad length")
	// ErrChecksum: the CRC32c in the common header does not match.
	ErrChecksum = errors.New("bad checksum")
	// ErrBadValue: a field holds a value the structure forbids.
	ErrBadValue = errors.New("bad value")
	// ErrWrongType: a typed decoder was handed a chunk, parameter or cause of
	// another type.
	ErrWrongType = errors.New("wrong type")
)

// ParseError reports what was malformed and where. Offset counts bytes from
// the start of the structure named by Where.
type ParseError struct {
	Where  string
	Offset int
	Err    error
	Detail string
}

func (e *ParseError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("wire: %s at offset %d: %v", e.Where, e.Offset, e.Err)
	}
	return fmt.Sprintf("wire: %s at offset %d: %v: %s", e.Where, e.Offset, e.Err, e.Detail)
}

func (e *ParseError) Unwrap() error { return e.Err }

// perr builds a *ParseError; only error paths call it, so its allocation never
// touches a well-formed packet.
func perr(where string, off int, err error, format string, args ...any) error {
	pe := &ParseError{Where: where, Offset: off, Err: err}
	if format != "" {
		pe.Detail = fmt.Sprintf(format, args...)
	}
	return pe
}

// need checks that b holds at least n bytes.
func need(where string, b []byte, n int) error {
	if len(b) < n {
		return perr(where, len(b), ErrTruncated, "need %d bytes, have %d", n, len(b))
	}
	return nil
}
