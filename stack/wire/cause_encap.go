package wire

import "encoding/binary"

// RestartWithNewEncapPortCause is cause 14, Restart of an Association with
// New Encapsulation Port. It is defined by
// draft-tuexen-tsvwg-sctp-udp-encaps-cons section 4 (which updates RFC
// 6951), and sent in the ABORT that refuses an INIT whose encapsulation does
// not match the association's.
type RestartWithNewEncapPortCause struct {
	// CurrentPort is the remote encapsulation port in use for the INIT's
	// source address; 0 when that path is not encapsulated.
	CurrentPort uint16
	// NewPort is the UDP source port of the INIT; 0 when it came
	// unencapsulated.
	NewPort uint16
}

func (*RestartWithNewEncapPortCause) CauseCode() CauseCode { return CauseRestartWithNewEncapPort }

func (c *RestartWithNewEncapPortCause) AppendTo(b []byte) []byte {
	b = appendCauseHeader(b, CauseRestartWithNewEncapPort, 4)
	b = binary.BigEndian.AppendUint16(b, c.CurrentPort)
	return binary.BigEndian.AppendUint16(b, c.NewPort)
}

func (c *RestartWithNewEncapPortCause) unmarshalValue(v []byte) error {
	if err := checkValueLen("Restart of an Association with New Encapsulation Port cause", v, 4); err != nil {
		return err
	}
	c.CurrentPort = binary.BigEndian.Uint16(v)
	c.NewPort = binary.BigEndian.Uint16(v[2:])
	return nil
}
