// Package deploy holds the tests of sctpgw's deployment files: the systemd
// unit (systemd/) and the Kubernetes manifests (kubernetes/). It is its own
// module so that k8s.io/api, which the manifest test decodes against, stays
// out of the product's dependencies; make test runs it.
package deploy
