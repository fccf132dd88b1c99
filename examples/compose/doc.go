// Package compose is the container lab: compose.yaml (eNB/gNB simulator
// containers -> edge sctpgw -> NAT -> core sctpgw -> MME), the
// configurations it mounts, the lab image's programs (s1sim, natbox) and
// the test that builds the images, brings the lab up with podman-compose,
// checks it end to end and tears it down (README.md).
package compose
