// Package stackhost is the one way into the engine Host that a stack.Stack
// drives, for sctpgw's own packages: the gateway, whose pairing logic
// (the gateway's core) is an engine-level application running inside engine
// handlers and so needs the Host itself, and tests that feed the engine
// packets or read what only the engine knows.
//
// The Stack's public API is the blocking calls of RFC 6458 (Listen, Dial,
// SendMsg, ...); it hands out neither the Host nor its lock. Being
// internal, this package keeps that door shut to applications.
//
// Package stack installs the implementation (Register) when it is
// initialized; the Stack is typed any here only because package stack
// imports this one.
package stackhost

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
)

// Func is what Do runs: the Host and the current time.
type Func = func(h *engine.Host, now time.Time)

// do is package stack's implementation of Do, set once by Register while
// package stack is initialized and never changed afterwards.
var do func(st any, f Func) error

// Register installs package stack's implementation of Do. Only package
// stack calls it, from its init.
func Register(impl func(st any, f Func) error) { do = impl }

// Do runs f with the engine Host of st, a *stack.Stack, under the Stack's
// lock, then sends what f produced and delivers the events it caused. f
// runs as the engine's handlers do (docs/design.md 7.3): it may call into
// the engine but must not block nor call the Stack's API. Do returns
// stack.ErrClosed, without running f, once the Stack is closed.
func Do(st any, f Func) error { return do(st, f) }
