package wire

// Heartbeat is a HEARTBEAT chunk (RFC 9260 3.3.5). Info is the
// sender-specific content of its Heartbeat Info parameter; only the sender
// interprets it, and the peer echoes it back untouched.
type Heartbeat struct{ Info []byte }

func (*Heartbeat) ChunkType() ChunkType { return TypeHeartbeat }

func (h *Heartbeat) AppendTo(b []byte) []byte { return appendHeartbeat(b, TypeHeartbeat, h.Info) }

// Unmarshal decodes c into h. Info is a copy: a HEARTBEAT ACK is often built
// after the receive buffer has been recycled.
func (h *Heartbeat) Unmarshal(c RawChunk) error {
	info, err := parseHeartbeat(c, TypeHeartbeat)
	if err != nil {
		return err
	}
	h.Info = info
	return nil
}

// HeartbeatAck is a HEARTBEAT ACK chunk (RFC 9260 3.3.6); Info is the
// sender-specific heartbeat information echoed from the HEARTBEAT.
type HeartbeatAck struct{ Info []byte }

func (*HeartbeatAck) ChunkType() ChunkType { return TypeHeartbeatAck }

func (h *HeartbeatAck) AppendTo(b []byte) []byte {
	return appendHeartbeat(b, TypeHeartbeatAck, h.Info)
}

func (h *HeartbeatAck) Unmarshal(c RawChunk) error {
	info, err := parseHeartbeat(c, TypeHeartbeatAck)
	if err != nil {
		return err
	}
	h.Info = info
	return nil
}

// appendHeartbeat writes the chunk around a single Heartbeat Info TLV. The
// chunk length stops where the TLV does: its padding is the chunk's padding
// (RFC 9260 3.2).
func appendHeartbeat(b []byte, t ChunkType, info []byte) []byte {
	b = appendChunkHeader(b, t, 0, ParamHeaderLen+len(info))
	return RawParam{Type: ParamHeartbeatInfo, Value: info}.AppendTo(b)
}

// parseHeartbeat extracts the Heartbeat Info parameter, the chunk's only
// content. Up to three bytes of the parameter's padding may be counted in the
// chunk length (RFC 9260 3.2 asks receivers to accept that); anything more is
// not a HEARTBEAT.
func parseHeartbeat(c RawChunk, t ChunkType) ([]byte, error) {
	if err := checkType(c, t); err != nil {
		return nil, err
	}
	where := t.String()
	typ, v, n, err := nextTLV(where+" Heartbeat Info", c.Value)
	if err != nil {
		return nil, err
	}
	if ParamType(typ) != ParamHeartbeatInfo {
		return nil, perr(where, 0, ErrBadValue, "carries %v, want the Heartbeat Info parameter", ParamType(typ))
	}
	if n != len(c.Value) {
		return nil, perr(where, 2, ErrBadLength, "%d bytes follow the Heartbeat Info parameter", len(c.Value)-n)
	}
	return cloneBytes(v), nil
}
