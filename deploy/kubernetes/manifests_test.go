// Package kubernetes tests the manifests beside it: every document decodes
// strictly into its Kubernetes API type (an unknown or misspelt field, a
// duplicate key or a wrong type fails), and what ties the objects together
// holds: the Service reaches the core pods' UDP port, the probes reach the
// admin listener the configuration sets, the grace period outlasts the
// drain, the configurations are accepted by sctpgw's own planner.
package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/sctpgw/sctpgw/gateway"
)

// newObject returns an empty object of the API type a document names.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	}
	return nil, fmt.Errorf("%s %s: not a type these manifests use", apiVersion, kind)
}

// decodeStrict decodes a multi-document YAML stream into API objects,
// refusing unknown fields, duplicate keys and trailing data.
func decodeStrict(b []byte) ([]any, error) {
	var objs []any
	for i, doc := range splitDocuments(b) {
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(j, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("document %d (%s): trailing data", i+1, tm.Kind)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// splitDocuments cuts a stream at "---" lines, leaving out empty documents
// (comments only).
func splitDocuments(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), b...), []byte("\n---")) {
		empty := true
		for _, ln := range strings.Split(string(d), "\n") {
			if t := strings.TrimSpace(ln); t != "" && !strings.HasPrefix(t, "#") {
				empty = false
			}
		}
		if !empty {
			docs = append(docs, d)
		}
	}
	return docs
}

// manifests decodes every *.yaml file here.
type manifests struct {
	objs []any
}

func load(t *testing.T) manifests {
	t.Helper()
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests")
	}
	var m manifests
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeStrict(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m.objs = append(m.objs, objs...)
	}
	return m
}

func find[T any](t *testing.T, m manifests, name string) T {
	t.Helper()
	for _, o := range m.objs {
		if v, ok := o.(T); ok && objectName(o) == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return zero
}

func objectName(o any) string {
	if v, ok := o.(metav1.Object); ok {
		return v.GetName()
	}
	return ""
}

// TestManifestsDecodeStrictly: every document is a known API type and
// decodes with nothing unknown; every object is in the namespace.
func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	if len(m.objs) != 7 {
		t.Fatalf("%d objects; the tests below expect 7 (namespace, 2 config maps, daemon set, deployment, service, budget)", len(m.objs))
	}
	for _, o := range m.objs {
		mo := o.(metav1.Object)
		if _, ns := o.(*corev1.Namespace); !ns && mo.GetNamespace() != "sctpgw" {
			t.Errorf("%T %s in namespace %q", o, mo.GetName(), mo.GetNamespace())
		}
	}
}

// TestDecodeStrictRefuses: the decoder the manifests pass refuses what the
// API server would (or would silently drop): a misspelt field, a duplicate
// key, a wrong type, an unknown kind.
func TestDecodeStrictRefuses(t *testing.T) {
	b, err := os.ReadFile("edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for what, bad := range map[string][]byte{
		"misspelt field": bytes.Replace(b, []byte("hostNetwork: true"), []byte("hostNetwrok: true"), 1),
		"duplicate key":  bytes.Replace(b, []byte("hostNetwork: true"), []byte("hostNetwork: true\n      hostNetwork: false"), 1),
		"wrong type":     bytes.Replace(b, []byte("terminationGracePeriodSeconds: 30"), []byte("terminationGracePeriodSeconds: 30s"), 1),
		"unknown kind":   bytes.Replace(b, []byte("kind: DaemonSet"), []byte("kind: DaemonSets"), 1),
	} {
		if bytes.Equal(bad, b) {
			t.Fatalf("%s: the edit did not apply", what)
		}
		if _, err := decodeStrict(bad); err == nil {
			t.Errorf("%s: decoded", what)
		} else {
			t.Logf("%s: %v", what, err)
		}
	}
}

// podConfig returns the sctpgw configuration a pod template mounts: the
// ConfigMap behind the volume at the directory of the --config argument.
func podConfig(t *testing.T, m manifests, pod corev1.PodSpec) *gateway.Plan {
	t.Helper()
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	i := slices.Index(c.Args, "--config")
	if len(c.Args) == 0 || c.Args[0] != "run" || i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %q: want run --config FILE", c.Args)
	}
	file := c.Args[i+1]
	var volume string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == filepath.Dir(file) {
			volume = vm.Name
		}
	}
	for _, v := range pod.Volumes {
		if v.Name == volume && v.ConfigMap != nil {
			cm := find[*corev1.ConfigMap](t, m, v.ConfigMap.Name)
			data, ok := cm.Data[filepath.Base(file)]
			if !ok {
				t.Fatalf("config map %s has no %s", cm.Name, filepath.Base(file))
			}
			cfg, err := gateway.ParseConfig([]byte(data))
			if err != nil {
				t.Fatalf("config map %s: %v", cm.Name, err)
			}
			// Cluster names resolve only in a cluster: planned as
			// `sctpgw check --no-resolve` plans, a stand-in address per
			// name; everything else is checked as run would.
			plan, err := cfg.Plan(gateway.StandInResolver())
			if err != nil {
				t.Fatalf("config map %s: %v", cm.Name, err)
			}
			return plan
		}
	}
	t.Fatalf("no config map mounted at %s", filepath.Dir(file))
	return nil
}

// checkPod: what both gateways' pods share. The container runs as UID 0
// with NET_RAW the only capability (Kubernetes gives added capabilities to
// root only), no privilege escalation, a read-only root; the grace period
// outlasts drain_timeout; the probes reach the admin listener.
func checkPod(t *testing.T, pod corev1.PodSpec, plan *gateway.Plan, probeHost string) {
	t.Helper()
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_RAW"}) {
		t.Fatalf("capabilities %+v: want drop ALL, add NET_RAW", sc)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.RunAsUser == nil || *sc.RunAsUser != 0 || sc.Privileged != nil && *sc.Privileged {
		t.Fatalf("security context %+v", sc)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Fatalf("pod security context %+v: want seccomp RuntimeDefault", pod.SecurityContext)
	}
	grace, drain := pod.TerminationGracePeriodSeconds, plan.DrainTimeout
	if drain == 0 {
		drain = 10 * time.Second // sctpgw run's default
	}
	if grace == nil || time.Duration(*grace)*time.Second < drain+5*time.Second {
		t.Fatalf("terminationGracePeriodSeconds %s: the drain (%v) and its aborts need 5 s more", fmtPtr(grace), drain)
	}
	adminHost, adminPort, err := splitHostPort(plan.Admin)
	if err != nil {
		t.Fatalf("admin %q: %v", plan.Admin, err)
	}
	if adminHost != "0.0.0.0" && adminHost != probeHost {
		t.Fatalf("admin listens on %s, the probes go to %q", plan.Admin, probeHost)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		want := "/readyz"
		if name == "liveness" {
			want = "/healthz" // a draining gateway is alive
		}
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Host != probeHost || containerPort(t, c, p.HTTPGet.Port.String()) != adminPort {
			t.Fatalf("%s probe %+v: want GET %s on %s:%d", name, p, want, probeHost, adminPort)
		}
	}
}

// containerPort resolves a probe's port, a number or a container port name.
func containerPort(t *testing.T, c corev1.Container, port string) int {
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("no container port named %q", port)
	return 0
}

func splitHostPort(s string) (string, int, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", 0, err
	}
	return ap.Addr().String(), int(ap.Port()), nil
}

func selects(t *testing.T, sel map[string]string, podLabels map[string]string) bool {
	t.Helper()
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(podLabels))
}

// TestEdgeDaemonSet: the edge runs in the node's namespace next to the
// simulators, resolves the core Service's name from there, and forwards
// every route to that Service's UDP port.
func TestEdgeDaemonSet(t *testing.T) {
	m := load(t)
	ds := find[*appsv1.DaemonSet](t, m, "sctpgw-edge")
	pod := ds.Spec.Template.Spec
	if !selects(t, ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels) {
		t.Fatalf("selector %v does not select the template's labels %v", ds.Spec.Selector, ds.Spec.Template.Labels)
	}
	if !pod.HostNetwork || pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Fatalf("hostNetwork %v, dnsPolicy %q: the edge serves the node's address and resolves cluster names", pod.HostNetwork, pod.DNSPolicy)
	}
	plan := podConfig(t, m, pod)
	// On the node's network an admin listener on 0.0.0.0 would be open to
	// the whole network: loopback, which the kubelet reaches from there.
	checkPod(t, pod, plan, "127.0.0.1")
	svc := find[*corev1.Service](t, m, "sctpgw-core")
	want := fmt.Sprintf("%s.%s.svc.cluster.local", svc.Name, svc.Namespace)
	if len(plan.Routes) == 0 {
		t.Fatal("no routes")
	}
	for _, r := range plan.Routes {
		if r.Listen.Encap || !r.Forward.Encap || r.Forward.Host != want || int32(r.Forward.UDPPort) != svc.Spec.Ports[0].Port {
			t.Fatalf("route %s: %s -> %s; want native in, out to udp://%s:%d", r.Name, r.Listen, r.Forward, want, svc.Spec.Ports[0].Port)
		}
	}
}

// TestCoreDeploymentAndService: the Service sends UDP 9899 to the port the
// core pods' configuration listens on, sticks a client to a pod, and
// selects the Deployment's pods; there are spare replicas, spread over
// nodes, and a disruption budget that drains one at a time.
func TestCoreDeploymentAndService(t *testing.T) {
	m := load(t)
	d := find[*appsv1.Deployment](t, m, "sctpgw-core")
	svc := find[*corev1.Service](t, m, "sctpgw-core")
	pdb := find[*policyv1.PodDisruptionBudget](t, m, "sctpgw-core")
	pod := d.Spec.Template.Spec
	podLabels := d.Spec.Template.Labels
	if !selects(t, d.Spec.Selector.MatchLabels, podLabels) || !selects(t, svc.Spec.Selector, podLabels) || !selects(t, pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Fatalf("selectors: deployment %v, service %v, budget %v; pod labels %v", d.Spec.Selector, svc.Spec.Selector, pdb.Spec.Selector, podLabels)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Fatalf("replicas %v: at least 2, so a pod's end leaves one to reconnect to", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Fatalf("rolling update %+v: a new pod must be ready before an old one drains", ru)
	}
	aff := pod.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
		aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Fatalf("affinity %+v: spread the core pods over nodes", aff)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("disruption budget %+v", pdb.Spec)
	}
	plan := podConfig(t, m, pod)
	checkPod(t, pod, plan, "")
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("service ports %+v", svc.Spec.Ports)
	}
	sp := svc.Spec.Ports[0]
	target := containerPort(t, pod.Containers[0], sp.TargetPort.String())
	var cp *corev1.ContainerPort
	for i, p := range pod.Containers[0].Ports {
		if int(p.ContainerPort) == target {
			cp = &pod.Containers[0].Ports[i]
		}
	}
	if sp.Protocol != corev1.ProtocolUDP || sp.Port != 9899 || cp == nil || cp.Protocol != corev1.ProtocolUDP {
		t.Fatalf("service port %+v -> container port %+v: want UDP 9899 (RFC 6951)", sp, cp)
	}
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		t.Fatalf("session affinity %q: an edge's tunnel must stay on one pod", svc.Spec.SessionAffinity)
	}
	if !plan.NeedUDP || int(plan.UDP.Port()) != target {
		t.Fatalf("the core listens on UDP %v, the service sends to %d", plan.UDP, target)
	}
	for _, r := range plan.Routes {
		if !r.Listen.Encap || r.Forward.Encap {
			t.Fatalf("route %s: %s -> %s; want the tunnel in, native out", r.Name, r.Listen, r.Forward)
		}
	}
	// Both gateways run the same image.
	ds := find[*appsv1.DaemonSet](t, m, "sctpgw-edge")
	if a, b := ds.Spec.Template.Spec.Containers[0].Image, pod.Containers[0].Image; a != b {
		t.Fatalf("images %q and %q", a, b)
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
