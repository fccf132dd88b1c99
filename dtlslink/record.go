package dtlslink

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash"

	"github.com/pion/dtls/v4"
	cryptosuite "github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/crypto/prf"
	"github.com/pion/dtls/v4/pkg/protocol"
)

// The record layer of an established session (DTLS 1.2, RFC 6347 4.1 and
// 4.1.2; AES-GCM records, RFC 5288 3 with RFC 6347 4.1.2.1; connection
// IDs, RFC 9146 4 and 5). pion/dtls does the handshake; once it is done
// the session seals its SCTP packets and opens the peer's application
// data records itself, on the link's goroutines and without allocating,
// with the keys the handshake agreed (derived from pion's exported state,
// RFC 5246 6.3). Everything else (alerts, handshake retransmissions,
// return routability checks) still goes through pion, and every record
// pion produces after the handover is opened and sealed again here, so
// that all records of the epoch on the wire take their sequence numbers
// from one counter: an AES-GCM nonce is never used twice (the explicit
// nonce is the record's epoch and sequence number, as pion does too).
//
// Receiving, a record is authenticated and checked against a replay
// window (RFC 6347 4.1.2.6) before anything else: a record that fails
// either is discarded silently (4.1.2.7), and only records that passed
// both go to pion, so pion never sees a replay either.

const (
	contentAppData     = 23
	contentRRC         = 27 // return_routability_check (RFC 9853)
	rrcPathChallenge   = 0
	rrcPathResponse    = 1
	explicitNonceLen   = 8
	gcmTagLen          = 16
	maxPlaintext       = 1 << 14
	maxSequence        = 1<<48 - 1
	dtls12Major        = 254
	dtls12Minor        = 253
	seqPlaceholderByte = 0xff
)

// errNotOurs: a record of another epoch (the handshake's): pion's.
// errReplayed: a record seen already, or older than the window.
var (
	errReplayed = errors.New("replayed or too old")
	errOtherCID = errors.New("another connection ID")
	errShort    = errors.New("short record")
	errVersion  = errors.New("not DTLS 1.2")
	errNoType   = errors.New("no content type")
)

var errNotOurs = errors.New("not a record of the current epoch")

// recordLayer protects one session's records after its handshake.
// Everything is the session's driver's (drive held).
type recordLayer struct {
	seal, open         cipher.AEAD
	sealSalt, openSalt [4]byte
	epoch              uint16
	peerCID            []byte // in the records we send (RFC 9146: the peer's)
	ourCID             []byte // in the records the peer sends
	nextSeq            uint64
	replay             replayWindow
	cutoff             uint64 // records below it were pion's to see
	// Scratch for the AEAD calls (their arguments would escape to the
	// heap from the stack).
	nonce [12]byte
	ad    [64]byte
}

// exportedState is the part of pion's serialised State (State.MarshalBinary,
// a documented snapshot that leaves the connection alone) the record
// layer needs; gob matches the fields by name.
type exportedState struct {
	HandshakeComplete    bool
	RemoteSequenceNumber uint64
	LocalEpoch           uint16
	RemoteEpoch          uint16
	LocalRandom          [32]byte
	RemoteRandom         [32]byte
	CipherSuiteID        uint16
	MasterSecret         []byte
	SequenceNumber       uint64
	LocalConnectionID    []byte
	RemoteConnectionID   []byte
	IsClient             bool
}

// suiteParams are the AES-GCM suites the link offers: key length and PRF
// hash (RFC 5288 3, RFC 5487 for the PSK one).
func suiteParams(id cryptosuite.ID) (int, func() hash.Hash, bool) {
	switch id {
	case cryptosuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cryptosuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		cryptosuite.TLS_PSK_WITH_AES_128_GCM_SHA256:
		return 16, sha256.New, true
	case cryptosuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, cryptosuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return 32, sha512.New384, true
	}
	return 0, nil, false
}

// newRecordLayer takes over the record protection of an established DTLS
// 1.2 session from pion's state.
func newRecordLayer(st dtls.State) (*recordLayer, error) {
	if v := st.NegotiatedVersion(); v != protocol.Version1_2 {
		return nil, fmt.Errorf("DTLS version %v: only 1.2 is taken over", v)
	}
	raw, err := st.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("exporting the session state: %w", err)
	}
	// Our copies of the secrets go once the AEADs hold them (best effort:
	// the collector may have copied them, and pion keeps the master
	// secret for the session's life anyway). Nothing here is logged.
	defer clear(raw)
	var es exportedState
	err = gob.NewDecoder(bytes.NewReader(raw)).Decode(&es)
	defer clear(es.MasterSecret)
	if err != nil {
		return nil, fmt.Errorf("reading the session state: %w", err)
	}
	keyLen, h, ok := suiteParams(cryptosuite.ID(es.CipherSuiteID))
	switch {
	case !ok:
		return nil, fmt.Errorf("cipher suite %#04x is not one the link offers", es.CipherSuiteID)
	case !es.HandshakeComplete || es.LocalEpoch != 1 || es.RemoteEpoch != 1 || len(es.MasterSecret) == 0:
		return nil, fmt.Errorf("state not that of a completed first handshake (epochs %d/%d)", es.LocalEpoch, es.RemoteEpoch)
	case es.SequenceNumber > maxSequence:
		return nil, errors.New("sequence numbers exhausted")
	}
	client, server := es.LocalRandom[:], es.RemoteRandom[:]
	if !es.IsClient {
		client, server = server, client
	}
	keys, err := prf.GenerateEncryptionKeys(es.MasterSecret, client, server, 0, keyLen, 4, h)
	if err != nil {
		return nil, fmt.Errorf("deriving the keys: %w", err)
	}
	defer func() {
		for _, k := range [][]byte{keys.ClientWriteKey, keys.ServerWriteKey, keys.ClientWriteIV, keys.ServerWriteIV} {
			clear(k)
		}
	}()
	sealKey, sealIV, openKey, openIV := keys.ClientWriteKey, keys.ClientWriteIV, keys.ServerWriteKey, keys.ServerWriteIV
	if !es.IsClient {
		sealKey, sealIV, openKey, openIV = openKey, openIV, sealKey, sealIV
	}
	r := &recordLayer{epoch: 1, peerCID: es.RemoteConnectionID, ourCID: es.LocalConnectionID,
		nextSeq: es.SequenceNumber, cutoff: es.RemoteSequenceNumber}
	copy(r.sealSalt[:], sealIV)
	copy(r.openSalt[:], openIV)
	if r.seal, err = newGCM(sealKey); err != nil {
		return nil, err
	}
	if r.open, err = newGCM(openKey); err != nil {
		return nil, err
	}
	return r, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// headerLen is the record header with a connection ID of cidLen bytes.
func headerLen(typ byte, cidLen int) int {
	if typ == contentTLS12CID {
		return recordHeaderLen + cidLen
	}
	return recordHeaderLen
}

// sealedLen is the size of a record of n bytes of content.
func (r *recordLayer) sealedLen(n int) int {
	if len(r.peerCID) > 0 {
		return recordHeaderLen + len(r.peerCID) + explicitNonceLen + n + 1 + gcmTagLen
	}
	return recordHeaderLen + explicitNonceLen + n + gcmTagLen
}

// sealTo writes one record of content type typ holding content into out,
// which has sealedLen(len(content)) bytes.
func (r *recordLayer) sealTo(out []byte, typ byte, content []byte) error {
	if len(content) > maxPlaintext {
		return fmt.Errorf("record of %d bytes: more than 2^14", len(content))
	}
	if r.nextSeq > maxSequence {
		return errors.New("sequence numbers exhausted")
	}
	seq := r.nextSeq
	r.nextSeq++
	outer, inner := typ, len(content)
	if len(r.peerCID) > 0 {
		outer, inner = contentTLS12CID, len(content)+1 // DTLSInnerPlaintext: content, real type, no padding
	}
	hl := headerLen(outer, len(r.peerCID))
	out[0], out[1], out[2] = outer, dtls12Major, dtls12Minor
	binary.BigEndian.PutUint64(out[3:11], uint64(r.epoch)<<48|seq)
	copy(out[11:hl-2], r.peerCID)
	binary.BigEndian.PutUint16(out[hl-2:hl], uint16(explicitNonceLen+inner+gcmTagLen))
	copy(r.nonce[:4], r.sealSalt[:])
	copy(r.nonce[4:], out[3:11])
	copy(out[hl:hl+explicitNonceLen], out[3:11])
	body := out[hl+explicitNonceLen:]
	copy(body, content)
	if len(r.peerCID) > 0 {
		body[len(content)] = typ
	}
	a := additionalData(r.ad[:0], outer, out[3:11], r.peerCID, inner)
	r.seal.Seal(body[:0], r.nonce[:], body[:inner], a)
	return nil
}

// additionalData is the AEAD's additional data: RFC 5246 6.2.3.3 for a
// plain record, RFC 9146 5 for a tls12_cid one.
func additionalData(a []byte, outer byte, epochSeq, cid []byte, innerLen int) []byte {
	if outer == contentTLS12CID {
		for range 8 {
			a = append(a, seqPlaceholderByte)
		}
		a = append(a, contentTLS12CID, byte(len(cid)), contentTLS12CID, dtls12Major, dtls12Minor)
		a = append(a, epochSeq...)
		a = append(a, cid...)
	} else {
		a = append(a, epochSeq...)
		a = append(a, outer, dtls12Major, dtls12Minor)
	}
	return append(a, byte(innerLen>>8), byte(innerLen))
}

// splitRecord cuts the first record off a datagram; cidLen is the length
// of the connection IDs in its tls12_cid records.
func splitRecord(b []byte, cidLen int) (rec, rest []byte, ok bool) {
	if len(b) < recordHeaderLen {
		return nil, nil, false
	}
	hl := headerLen(b[0], cidLen)
	if len(b) < hl {
		return nil, nil, false
	}
	n := hl + int(binary.BigEndian.Uint16(b[hl-2:hl]))
	if n > len(b) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

// openTo authenticates a record of the current epoch sent by the peer,
// checks it against the replay window, and writes its content into dst
// (at least as long as the record). It returns the content type and the
// content. A record of another epoch is errNotOurs; any other error means
// discard.
func (r *recordLayer) openTo(dst, rec []byte) (byte, []byte, error) {
	if len(rec) < recordHeaderLen {
		return 0, nil, errShort
	}
	if binary.BigEndian.Uint16(rec[3:5]) != r.epoch {
		return 0, nil, errNotOurs // epoch 0: the handshake's, pion's
	}
	seq := binary.BigEndian.Uint64(rec[3:11]) & maxSequence
	if seq < r.cutoff {
		return 0, nil, errReplayed // before the handover: pion's to see
	}
	if !r.replay.fresh(seq) {
		return 0, nil, errReplayed
	}
	typ, pt, err := r.unseal(r.open, r.openSalt, r.ourCID, dst, rec)
	if err != nil {
		return 0, nil, err
	}
	r.replay.mark(seq)
	return typ, pt, nil
}

// unsealLocal opens a record pion sealed for the peer (with our write
// key), to seal its content again under our sequence numbers.
func (r *recordLayer) unsealLocal(dst, rec []byte) (byte, []byte, error) {
	if len(rec) < recordHeaderLen {
		return 0, nil, errShort
	}
	if binary.BigEndian.Uint16(rec[3:5]) != r.epoch {
		return 0, nil, errNotOurs
	}
	return r.unseal(r.seal, r.sealSalt, r.peerCID, dst, rec)
}

// unseal authenticates and decrypts one record whose tls12_cid form
// carries cid.
func (r *recordLayer) unseal(aead cipher.AEAD, salt [4]byte, cid, dst, rec []byte) (byte, []byte, error) {
	outer := rec[0]
	if rec[1] != dtls12Major || rec[2] != dtls12Minor {
		return 0, nil, errVersion
	}
	var recCID []byte
	hl := headerLen(outer, len(cid))
	if len(rec) < hl {
		return 0, nil, errShort
	}
	if outer == contentTLS12CID {
		recCID = rec[cidOffset : hl-2]
		if !bytes.Equal(recCID, cid) {
			return 0, nil, errOtherCID
		}
	}
	body := rec[hl:]
	if len(body) < explicitNonceLen+gcmTagLen || int(binary.BigEndian.Uint16(rec[hl-2:hl])) != len(body) {
		return 0, nil, errShort
	}
	innerLen := len(body) - explicitNonceLen - gcmTagLen
	copy(r.nonce[:4], salt[:])
	copy(r.nonce[4:], body[:explicitNonceLen])
	a := additionalData(r.ad[:0], outer, rec[3:11], recCID, innerLen)
	pt, err := aead.Open(dst[:0], r.nonce[:], body[explicitNonceLen:], a)
	if err != nil {
		return 0, nil, err
	}
	if outer != contentTLS12CID {
		return outer, pt, nil
	}
	// DTLSInnerPlaintext: content, real type, zero padding (RFC 9146 4).
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errNoType
	}
	return pt[i], pt[:i], nil
}
