package engine

// State is an association's state (RFC 9260 section 4).
type State uint8

const (
	stateClosed State = iota
	stateCookieWait
	stateCookieEchoed
	// stateAcceptPending: a valid COOKIE ECHO built the TCB, but the accept
	// hook has not answered, so the COOKIE ACK is withheld (docs/design.md 2.1).
	// Towards the peer this looks like a COOKIE ECHO that got no answer yet.
	stateAcceptPending
	stateEstablished
	stateShutdownPending
	stateShutdownSent
	stateShutdownReceived
	stateShutdownAckSent
)

// Exported names, for Status.
const (
	StateClosed           = stateClosed
	StateCookieWait       = stateCookieWait
	StateCookieEchoed     = stateCookieEchoed
	StateAcceptPending    = stateAcceptPending
	StateEstablished      = stateEstablished
	StateShutdownPending  = stateShutdownPending
	StateShutdownSent     = stateShutdownSent
	StateShutdownReceived = stateShutdownReceived
	StateShutdownAckSent  = stateShutdownAckSent
)

var stateNames = [...]string{
	stateClosed: "CLOSED", stateCookieWait: "COOKIE-WAIT", stateCookieEchoed: "COOKIE-ECHOED",
	stateAcceptPending: "ACCEPT-PENDING", stateEstablished: "ESTABLISHED",
	stateShutdownPending: "SHUTDOWN-PENDING", stateShutdownSent: "SHUTDOWN-SENT",
	stateShutdownReceived: "SHUTDOWN-RECEIVED", stateShutdownAckSent: "SHUTDOWN-ACK-SENT",
}

func (s State) String() string { return stateNames[s] }

// acceptsUserData reports whether Send may queue data (9.2: not while
// shutting down; before COMM_UP data queues and goes with COOKIE ECHO).
func (s State) acceptsUserData() bool {
	return s == stateCookieWait || s == stateCookieEchoed || s == stateAcceptPending || s == stateEstablished
}
