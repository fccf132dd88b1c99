package usrsctptool

import "testing"

func TestParseTsctp(t *testing.T) {
	out := "Connection accepted from 198.18.1.10:5001\nnoise, 1, 2\n1024, 331582, 331582, 339539968, 10.001203, 33949913.507236, 1\n"
	r, ok := ParseTsctp(out)
	if !ok || r.FirstLen != 1024 || r.Messages != 331582 || r.RecvCalls != 331582 || r.Bytes != 339539968 || r.Seconds != 10.001203 {
		t.Fatalf("%+v %v", r, ok)
	}
	if m := r.Mbitps(); m < 271.5 || m > 271.7 {
		t.Errorf("Mbit/s %v, want about 271.6", m)
	}
	if _, ok := ParseTsctp("1024, 0, 0, 0, 0.000000, 0.0, 0\n"); ok {
		t.Error("a run that measured nothing parsed as a result")
	}
	if _, ok := ParseTsctp("no result here\n"); ok {
		t.Error("no line, but a result")
	}
}
