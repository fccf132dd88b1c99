package wire

// HeartbeatInfoParam is the Heartbeat Info parameter (RFC 9260 3.3.5). The
// HEARTBEAT and HEARTBEAT ACK chunks carry it implicitly (see Heartbeat.Info);
// this type exists so that it decodes wherever else a peer puts it.
type HeartbeatInfoParam struct{ Info []byte }

func (*HeartbeatInfoParam) ParamType() ParamType { return ParamHeartbeatInfo }

func (p *HeartbeatInfoParam) AppendTo(b []byte) []byte {
	return RawParam{Type: ParamHeartbeatInfo, Value: p.Info}.AppendTo(b)
}

func (p *HeartbeatInfoParam) unmarshalValue(v []byte) error {
	p.Info = v
	return nil
}
