// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airi-otel/otelcol-airi/deploy/internal/deploytest"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

const imageRepo = "ghcr.io/airi-otel/otelcol-airi"

// objects are the decoded manifests of one file, by kind.
type objects struct {
	file            string
	serviceAccounts []corev1.ServiceAccount
	services        []corev1.Service
	deployments     []appsv1.Deployment
	daemonSets      []appsv1.DaemonSet
	pdbs            []policyv1.PodDisruptionBudget
	hpas            []autoscalingv2.HorizontalPodAutoscaler
	clusterRoles    []rbacv1.ClusterRole
	bindings        []rbacv1.ClusterRoleBinding
}

// decodeStrict decodes one document into its Kubernetes API type, failing on unknown or
// duplicate fields, and checks its apiVersion and kind.
func decodeStrict[T any](t *testing.T, where string, doc []byte, gvk metav1.TypeMeta) T {
	t.Helper()
	var obj T
	require.NoError(t, sigsyaml.UnmarshalStrict(doc, &obj), where)
	return obj
}

func loadManifests(t *testing.T) []objects {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"agent.yaml", "gateway.yaml", "sidecar.yaml"}, files)
	var out []objects
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		o := objects{file: f}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			require.NoError(t, sigsyaml.Unmarshal(doc, &tm))
			where := fmt.Sprintf("%s document %d (%s %s)", f, i, tm.APIVersion, tm.Kind)
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 ServiceAccount":
				o.serviceAccounts = append(o.serviceAccounts, decodeStrict[corev1.ServiceAccount](t, where, doc, tm))
			case "v1 Service":
				o.services = append(o.services, decodeStrict[corev1.Service](t, where, doc, tm))
			case "apps/v1 Deployment":
				o.deployments = append(o.deployments, decodeStrict[appsv1.Deployment](t, where, doc, tm))
			case "apps/v1 DaemonSet":
				o.daemonSets = append(o.daemonSets, decodeStrict[appsv1.DaemonSet](t, where, doc, tm))
			case "policy/v1 PodDisruptionBudget":
				o.pdbs = append(o.pdbs, decodeStrict[policyv1.PodDisruptionBudget](t, where, doc, tm))
			case "autoscaling/v2 HorizontalPodAutoscaler":
				o.hpas = append(o.hpas, decodeStrict[autoscalingv2.HorizontalPodAutoscaler](t, where, doc, tm))
			case "rbac.authorization.k8s.io/v1 ClusterRole":
				o.clusterRoles = append(o.clusterRoles, decodeStrict[rbacv1.ClusterRole](t, where, doc, tm))
			case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
				o.bindings = append(o.bindings, decodeStrict[rbacv1.ClusterRoleBinding](t, where, doc, tm))
			default:
				t.Fatalf("%s: no test knows this kind; add it to loadManifests", where)
			}
		}
		out = append(out, o)
	}
	return out
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}

// collector is one otelcol-airi container with the pod it runs in, from a manifest or from
// Helm values rendered the way the chart renders them.
type collector struct {
	where     string
	container corev1.Container
	pod       corev1.PodSpec
	// extraEnv is what the deployment tool adds (the chart's MY_POD_IP).
	extraEnv []corev1.EnvVar
}

func collectorsOf(where string, pod corev1.PodSpec) []collector {
	var out []collector
	for _, list := range [][]corev1.Container{pod.InitContainers, pod.Containers} {
		for _, c := range list {
			if strings.HasPrefix(c.Image, imageRepo+":") {
				out = append(out, collector{where: where + " container " + c.Name, container: c, pod: pod})
			}
		}
	}
	return out
}

// downward gives the downward-API fields a plausible value, so `$(VAR)` expansion and
// `otelcol-airi validate` see what a pod would.
var downward = map[string]string{
	"status.podIP":  "10.1.2.3",
	"status.hostIP": "10.0.0.1",
	"spec.nodeName": "node-1",
	"metadata.name": "pod-1",
}

// helperEnv are variables a collector container may set that are not the configs' own: the
// downward-API values other variables reference, and what the Go runtime and the OTel
// resource detector read.
var helperEnv = map[string]bool{
	"POD_IP": true, "MY_POD_IP": true, "K8S_NODE_IP": true, "K8S_NODE_NAME": true,
	"GOMEMLIMIT": true, "OTEL_RESOURCE_ATTRIBUTES": true,
}

var k8sRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkCollector holds one collector container to everything the repository says about it.
func checkCollector(t *testing.T, c collector, args []string, image string, img deploytest.Dockerfile, example map[string]bool) {
	t.Helper()
	where := c.where
	name, err := deploytest.ConfigArg(args)
	require.NoError(t, err, where)
	require.Equal(t, imageRepo+":"+deploytest.Version(t), image, "%s: image tag is the distribution's version", where)

	// Environment: every variable documented and read, every $(VAR) defined before its use.
	reads := deploytest.ConfigEnv(t, name)
	env := map[string]string{}
	for k, v := range img.Env {
		env[k] = v
	}
	defined := map[string]string{}
	referenced := map[string]bool{}
	for _, e := range append(append([]corev1.EnvVar{}, c.extraEnv...), c.container.Env...) {
		_, dup := defined[e.Name]
		require.False(t, dup, "%s: %s set twice", where, e.Name)
		var val string
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			v, ok := downward[e.ValueFrom.FieldRef.FieldPath]
			require.True(t, ok, "%s: %s from unknown field %s", where, e.Name, e.ValueFrom.FieldRef.FieldPath)
			val = v
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			require.NotNil(t, e.ValueFrom.SecretKeyRef.Optional, "%s: %s: say whether the secret is optional", where, e.Name)
			val = ""
		case e.ValueFrom != nil:
			t.Fatalf("%s: %s: unsupported valueFrom", where, e.Name)
		default:
			for _, m := range k8sRef.FindAllStringSubmatch(e.Value, -1) {
				_, ok := defined[m[1]]
				require.True(t, ok, "%s: %s references $(%s), which is not defined before it", where, e.Name, m[1])
				referenced[m[1]] = true
			}
			val = k8sRef.ReplaceAllStringFunc(e.Value, func(m string) string { return defined[m[2:len(m)-1]] })
		}
		defined[e.Name] = val
		env[e.Name] = val
		if helperEnv[e.Name] {
			continue
		}
		require.True(t, example[e.Name], "%s: %s is not in config/.env.example", where, e.Name)
		_, ok := reads[e.Name]
		require.True(t, ok, "%s: %s is set but airi:%s never reads it", where, e.Name, name)
	}
	for h := range helperEnv {
		if _, set := defined[h]; set && h != "GOMEMLIMIT" && h != "OTEL_RESOURCE_ATTRIBUTES" && h != "MY_POD_IP" {
			require.True(t, referenced[h], "%s: %s is set but nothing references $(%s)", where, h, h)
		}
	}

	// Ports: exactly the listeners reachable beyond loopback.
	listeners := deploytest.Listeners(t, name, env)
	var declared []int
	portByName := map[string]int{}
	for _, p := range c.container.Ports {
		declared = append(declared, int(p.ContainerPort))
		if p.Name != "" {
			portByName[p.Name] = int(p.ContainerPort)
		}
		if p.HostPort != 0 {
			require.Equal(t, p.ContainerPort, p.HostPort, "%s: hostPort %d", where, p.HostPort)
		}
	}
	sort.Ints(declared)
	require.Equal(t, deploytest.ReachablePorts(listeners), declared, "%s: container ports vs where airi:%s listens (%+v)", where, name, listeners)

	// Probes hit the health_check extension, which must listen beyond loopback.
	var health deploytest.Listener
	for _, l := range listeners {
		if l.Var == "AIRI_HEALTH_ENDPOINT" {
			health = l
		}
	}
	require.NotZero(t, health.Port, where)
	require.False(t, health.Loopback(), "%s: the kubelet cannot probe a loopback health endpoint", where)
	for what, p := range map[string]*corev1.Probe{"readiness": c.container.ReadinessProbe, "liveness": c.container.LivenessProbe} {
		require.NotNil(t, p, "%s: no %s probe", where, what)
		require.NotNil(t, p.HTTPGet, "%s: %s probe", where, what)
		require.Equal(t, "/", p.HTTPGet.Path)
		port := p.HTTPGet.Port.IntValue()
		if p.HTTPGet.Port.Type == intstr.String {
			port = portByName[p.HTTPGet.Port.StrVal]
		}
		require.Equal(t, health.Port, port, "%s: %s probe port", where, what)
	}

	checkSecurity(t, where, c.container.SecurityContext, c.pod.SecurityContext)

	// Memory: a limit (memory_limiter sizes itself from the cgroup) and GOMEMLIMIT below it.
	limit, ok := c.container.Resources.Limits[corev1.ResourceMemory]
	require.True(t, ok, "%s: set resources.limits.memory: memory_limiter takes 80 %% of it", where)
	if g, set := env["GOMEMLIMIT"]; set {
		q, err := resource.ParseQuantity(strings.TrimSuffix(g, "B"))
		require.NoError(t, err, "%s: GOMEMLIMIT=%q", where, g)
		require.LessOrEqual(t, q.Value(), limit.Value()*8/10, "%s: GOMEMLIMIT above 80 %% of the memory limit", where)
	}

	// What the config writes or reads on disk is a volume (the root filesystem is read-only).
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.container.VolumeMounts {
		mounts[m.MountPath] = m
	}
	if _, ok := reads["AIRI_STORAGE_DIR"]; ok && strings.Contains(string(mustConfig(t, name)), "file_storage") {
		m, ok := mounts[env["AIRI_STORAGE_DIR"]]
		require.True(t, ok, "%s: AIRI_STORAGE_DIR=%s is not a volume", where, env["AIRI_STORAGE_DIR"])
		require.False(t, m.ReadOnly, "%s: the storage volume must be writable", where)
	}
	for _, glob := range []string{"AIRI_LOG_GLOB", "AIRI_POD_LOG_GLOB"} {
		if _, ok := reads[glob]; !ok || env[glob] == "" {
			continue
		}
		// The directory above the glob's first wildcard: /var/log/pods for /var/log/pods/*/*/*.log.
		dir := env[glob]
		if i := strings.IndexAny(dir, "*?["); i >= 0 {
			dir = dir[:i]
		}
		dir = path.Dir(dir + "x")
		_, ok := mounts[dir]
		require.True(t, ok, "%s: the log directory %s (%s) is not mounted", where, dir, glob)
	}
	if _, ok := reads["AIRI_HOST_ROOT"]; ok && env["AIRI_HOST_ROOT"] != "/" {
		_, ok := mounts[env["AIRI_HOST_ROOT"]]
		require.True(t, ok, "%s: AIRI_HOST_ROOT=%s is not mounted", where, env["AIRI_HOST_ROOT"])
	}

	// host_metrics checks that root_path exists; /hostfs is the pod's hostPath mount of /, which
	// on this machine is / itself.
	validateEnv := map[string]string{}
	for k, v := range env {
		validateEnv[k] = v
	}
	if _, ok := validateEnv["AIRI_HOST_ROOT"]; ok {
		validateEnv["AIRI_HOST_ROOT"] = "/"
	}
	deploytest.Validate(t, "airi:"+name, validateEnv)
}

func mustConfig(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "config", name+".yaml"))
	require.NoError(t, err)
	return b
}

func checkSecurity(t *testing.T, where string, sc *corev1.SecurityContext, pod *corev1.PodSecurityContext) {
	t.Helper()
	require.NotNil(t, sc, "%s: no securityContext", where)
	nonRoot, uid := sc.RunAsNonRoot, sc.RunAsUser
	if pod != nil {
		if nonRoot == nil {
			nonRoot = pod.RunAsNonRoot
		}
		if uid == nil {
			uid = pod.RunAsUser
		}
	}
	require.True(t, nonRoot != nil && *nonRoot, "%s: runAsNonRoot", where)
	require.True(t, uid != nil && *uid != 0, "%s: runAsUser must be a non-root uid", where)
	require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: allowPrivilegeEscalation: false", where)
	require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: readOnlyRootFilesystem: true", where)
	require.NotNil(t, sc.Capabilities, "%s: drop capabilities", where)
	require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, where)
	require.Empty(t, sc.Capabilities.Add, where)
}

func TestManifests(t *testing.T) {
	img := deploytest.ReadDockerfile(t)
	example := deploytest.EnvExample(t)
	seen := map[string]int{}
	for _, o := range loadManifests(t) {
		var cs []collector
		for _, d := range o.deployments {
			cs = append(cs, collectorsOf(o.file+" Deployment "+d.Name, d.Spec.Template.Spec)...)
			requireSelects(t, o.file, d.Spec.Selector, d.Spec.Template.Labels)
		}
		for _, d := range o.daemonSets {
			cs = append(cs, collectorsOf(o.file+" DaemonSet "+d.Name, d.Spec.Template.Spec)...)
			requireSelects(t, o.file, d.Spec.Selector, d.Spec.Template.Labels)
			checkInitContainers(t, o.file, d.Spec.Template.Spec)
		}
		require.NotEmpty(t, cs, "%s has no otelcol-airi container", o.file)
		for _, c := range cs {
			checkCollector(t, c, c.container.Args, c.container.Image, img, example)
			require.Empty(t, c.container.Command, "%s: keep the image's ENTRYPOINT", c.where)
			name, _ := deploytest.ConfigArg(c.container.Args)
			seen[name]++
			if c.pod.ServiceAccountName != "" {
				found := false
				for _, sa := range o.serviceAccounts {
					found = found || sa.Name == c.pod.ServiceAccountName
				}
				require.True(t, found, "%s: ServiceAccount %s is not in %s", c.where, c.pod.ServiceAccountName, o.file)
			}
		}
	}
	require.Equal(t, map[string]int{"sidecar": 1, "agent": 1, "gateway": 1}, seen)
}

// checkInitContainers: an init container other than the collector may run as root only to chown
// a hostPath, with CHOWN as its one capability.
func checkInitContainers(t *testing.T, file string, pod corev1.PodSpec) {
	t.Helper()
	for _, c := range pod.InitContainers {
		if strings.HasPrefix(c.Image, imageRepo+":") {
			continue
		}
		require.Equal(t, "chown", c.Command[0], "%s: init container %s", file, c.Name)
		sc := c.SecurityContext
		require.NotNil(t, sc)
		require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
		require.Equal(t, []corev1.Capability{"CHOWN"}, sc.Capabilities.Add)
		require.False(t, *sc.AllowPrivilegeEscalation)
		require.True(t, *sc.ReadOnlyRootFilesystem)
	}
}

func requireSelects(t *testing.T, where string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	require.NoError(t, err, where)
	require.False(t, s.Empty(), where)
	require.True(t, s.Matches(labels.Set(podLabels)), "%s: selector %s does not match the pod labels %v", where, s, podLabels)
}

func find[T any](t *testing.T, list []T, name func(T) string, want string) T {
	t.Helper()
	for _, x := range list {
		if name(x) == want {
			return x
		}
	}
	t.Fatalf("no %T named %q", *new(T), want)
	panic("unreachable")
}

// TestAgentReachesGatewayThroughHeadlessService ties agent.yaml's AIRI_GATEWAY_HOST and
// AIRI_GATEWAY_OTLP_PORT to gateway.yaml's headless Service, its pods and their OTLP port, and
// the HPA and PDB to the gateway Deployment.
func TestAgentReachesGatewayThroughHeadlessService(t *testing.T) {
	var agent, gw objects
	for _, o := range loadManifests(t) {
		switch o.file {
		case "agent.yaml":
			agent = o
		case "gateway.yaml":
			gw = o
		}
	}
	require.Len(t, agent.daemonSets, 1)
	require.Len(t, gw.deployments, 1)
	ds, dep := agent.daemonSets[0], gw.deployments[0]

	env := map[string]string{}
	for _, e := range ds.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	host := env["AIRI_GATEWAY_HOST"]
	parts := strings.Split(host, ".")
	require.GreaterOrEqual(t, len(parts), 2, "AIRI_GATEWAY_HOST=%q: use <service>.<namespace>[.svc.cluster.local]", host)
	require.Equal(t, dep.Namespace, parts[1], "AIRI_GATEWAY_HOST's namespace")

	headless := find(t, gw.services, func(s corev1.Service) string { return s.Name }, parts[0])
	require.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP, "the load_balancing exporter needs one DNS record per replica")
	require.True(t, labels.SelectorFromSet(headless.Spec.Selector).Matches(labels.Set(dep.Spec.Template.Labels)))
	require.Len(t, headless.Spec.Ports, 1)
	require.Equal(t, env["AIRI_GATEWAY_OTLP_PORT"], fmt.Sprint(headless.Spec.Ports[0].Port))

	gwContainer := dep.Spec.Template.Spec.Containers[0]
	target := headless.Spec.Ports[0].TargetPort
	var targetPort int32
	for _, p := range gwContainer.Ports {
		if p.Name == target.StrVal || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			targetPort = p.ContainerPort
		}
	}
	gwEnv := map[string]string{}
	for _, e := range gwContainer.Env {
		gwEnv[e.Name] = e.Value
	}
	require.True(t, strings.HasSuffix(gwEnv["AIRI_OTLP_GRPC_ENDPOINT"], fmt.Sprintf(":%d", targetPort)),
		"the headless Service must lead to the gateway's OTLP gRPC receiver (%s), got port %d", gwEnv["AIRI_OTLP_GRPC_ENDPOINT"], targetPort)

	clusterIP := find(t, gw.services, func(s corev1.Service) string { return s.Name }, dep.Name)
	require.NotEqual(t, corev1.ClusterIPNone, clusterIP.Spec.ClusterIP)
	require.True(t, labels.SelectorFromSet(clusterIP.Spec.Selector).Matches(labels.Set(dep.Spec.Template.Labels)))

	require.Len(t, gw.hpas, 1)
	hpa := gw.hpas[0]
	require.Equal(t, autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name}, hpa.Spec.ScaleTargetRef)
	require.NotNil(t, hpa.Spec.MinReplicas)
	require.GreaterOrEqual(t, *hpa.Spec.MinReplicas, int32(2), "one gateway replica is a single point of failure")
	require.Equal(t, *dep.Spec.Replicas, *hpa.Spec.MinReplicas)
	require.NotNil(t, hpa.Spec.Behavior)
	require.GreaterOrEqual(t, *hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds, int32(600),
		"scale down slower than the prometheus exporter's metric_expiration (10m)")

	require.Len(t, gw.pdbs, 1)
	requireSelects(t, "gateway PDB", gw.pdbs[0].Spec.Selector, dep.Spec.Template.Labels)
	require.NotNil(t, gw.pdbs[0].Spec.MaxUnavailable)
	require.Less(t, gw.pdbs[0].Spec.MaxUnavailable.IntValue(), int(*hpa.Spec.MinReplicas))
}
