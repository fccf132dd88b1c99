//go:build !linux

package portguard

import "errors"

// Off Linux there is no kernel SCTP to guard against and no nftables.

func installRules(RulesConfig, []uint16) (ruleSet, error) {
	return nil, errors.New("portguard: nftables needs Linux")
}

func hasNetAdmin() bool { return false }

func processAlive(int) bool { return true }
