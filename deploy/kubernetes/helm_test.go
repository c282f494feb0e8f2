// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airi-otel/otelcol-airi/deploy/internal/deploytest"
)

// chartValues are the keys of the open-telemetry/opentelemetry-collector chart our values use,
// as its values.schema.json (chart 0.15x) and its ci/ values name them. Decoding with
// KnownFields rejects a key the chart does not have (a typo would be silently ignored by Helm).
// Kubernetes-typed parts stay generic here and are decoded strictly into the API types below.
type chartValues struct {
	Mode             string `yaml:"mode"`
	NameOverride     string `yaml:"nameOverride"`
	FullnameOverride string `yaml:"fullnameOverride"`
	Image            struct {
		Repository string `yaml:"repository"`
		Tag        string `yaml:"tag"`
		Digest     string `yaml:"digest"`
		PullPolicy string `yaml:"pullPolicy"`
	} `yaml:"image"`
	Command struct {
		Name      string   `yaml:"name"`
		ExtraArgs []string `yaml:"extraArgs"`
	} `yaml:"command"`
	ConfigMap struct {
		Create       bool   `yaml:"create"`
		ExistingName string `yaml:"existingName"`
	} `yaml:"configMap"`
	Config         map[string]any `yaml:"config"`
	ServiceAccount struct {
		Create                       bool              `yaml:"create"`
		Annotations                  map[string]string `yaml:"annotations"`
		Name                         string            `yaml:"name"`
		AutomountServiceAccountToken *bool             `yaml:"automountServiceAccountToken"`
	} `yaml:"serviceAccount"`
	ClusterRole struct {
		Create bool  `yaml:"create"`
		Rules  []any `yaml:"rules"`
	} `yaml:"clusterRole"`
	PodSecurityContext any                  `yaml:"podSecurityContext"`
	SecurityContext    any                  `yaml:"securityContext"`
	Tolerations        []any                `yaml:"tolerations"`
	Resources          any                  `yaml:"resources"`
	UseGOMEMLIMIT      *bool                `yaml:"useGOMEMLIMIT"`
	ExtraEnvs          []any                `yaml:"extraEnvs"`
	ExtraVolumes       []any                `yaml:"extraVolumes"`
	ExtraVolumeMounts  []any                `yaml:"extraVolumeMounts"`
	Ports              map[string]chartPort `yaml:"ports"`
	LivenessProbe      any                  `yaml:"livenessProbe"`
	ReadinessProbe     any                  `yaml:"readinessProbe"`
	ReplicaCount       *int                 `yaml:"replicaCount"`
	Service            struct {
		Enabled   *bool  `yaml:"enabled"`
		Type      string `yaml:"type"`
		ClusterIP string `yaml:"clusterIP"`
	} `yaml:"service"`
	PodDisruptionBudget struct {
		Enabled        bool `yaml:"enabled"`
		MaxUnavailable int  `yaml:"maxUnavailable"`
	} `yaml:"podDisruptionBudget"`
	Autoscaling struct {
		HPA struct {
			Enabled                        bool `yaml:"enabled"`
			MinReplicas                    int  `yaml:"minReplicas"`
			MaxReplicas                    int  `yaml:"maxReplicas"`
			TargetCPUUtilizationPercentage int  `yaml:"targetCPUUtilizationPercentage"`
			Behavior                       any  `yaml:"behavior"`
		} `yaml:"hpa"`
	} `yaml:"autoscaling"`
}

type chartPort struct {
	Enabled       bool   `yaml:"enabled"`
	ContainerPort int32  `yaml:"containerPort"`
	ServicePort   int32  `yaml:"servicePort"`
	HostPort      int32  `yaml:"hostPort"`
	Protocol      string `yaml:"protocol"`
	AppProtocol   string `yaml:"appProtocol"`
}

func loadValues(t *testing.T, file string) chartValues {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var v chartValues
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&v), "%s: a key the chart does not know", file)
	return v
}

// asK8s decodes a generic values fragment strictly into a Kubernetes API type.
func asK8s[T any](t *testing.T, where string, v any) T {
	t.Helper()
	var out T
	if v == nil {
		return out
	}
	b, err := json.Marshal(v)
	require.NoError(t, err, where)
	require.NoError(t, sigsyaml.UnmarshalStrict(b, &out), where)
	return out
}

// render builds the collector container the chart renders from v: command /<command.name>,
// args = command.extraArgs (configMap.create false drops --config=/conf/relay.yaml), env
// MY_POD_IP then extraEnvs (+ GOMEMLIMIT at 80 % of the limit with useGOMEMLIMIT), the enabled
// ports, the probes, securityContext, resources, extraVolumeMounts.
func render(t *testing.T, file string, v chartValues) (collector, []string) {
	t.Helper()
	c := corev1.Container{
		Name:            "opentelemetry-collector",
		Command:         []string{"/" + v.Command.Name},
		Args:            v.Command.ExtraArgs,
		Image:           v.Image.Repository + ":" + v.Image.Tag,
		SecurityContext: ptrTo(asK8s[corev1.SecurityContext](t, file+" securityContext", v.SecurityContext)),
		Resources:       asK8s[corev1.ResourceRequirements](t, file+" resources", v.Resources),
		LivenessProbe:   ptrTo(asK8s[corev1.Probe](t, file+" livenessProbe", v.LivenessProbe)),
		ReadinessProbe:  ptrTo(asK8s[corev1.Probe](t, file+" readinessProbe", v.ReadinessProbe)),
		Env:             asK8s[[]corev1.EnvVar](t, file+" extraEnvs", v.ExtraEnvs),
		VolumeMounts:    asK8s[[]corev1.VolumeMount](t, file+" extraVolumeMounts", v.ExtraVolumeMounts),
	}
	if v.UseGOMEMLIMIT != nil && *v.UseGOMEMLIMIT {
		limit := c.Resources.Limits[corev1.ResourceMemory]
		require.False(t, limit.IsZero(), "%s: useGOMEMLIMIT needs resources.limits.memory", file)
		c.Env = append(c.Env, corev1.EnvVar{Name: "GOMEMLIMIT", Value: fmt.Sprintf("%dMiB", limit.Value()*8/10>>20)})
	}
	for name, p := range v.Ports {
		if p.Enabled {
			require.NotZero(t, p.ContainerPort, "%s: port %s", file, name)
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: name, ContainerPort: p.ContainerPort, HostPort: p.HostPort})
		}
	}
	pod := corev1.PodSpec{
		SecurityContext: ptrTo(asK8s[corev1.PodSecurityContext](t, file+" podSecurityContext", v.PodSecurityContext)),
		Volumes:         asK8s[[]corev1.Volume](t, file+" extraVolumes", v.ExtraVolumes),
		Tolerations:     asK8s[[]corev1.Toleration](t, file+" tolerations", v.Tolerations),
		Containers:      []corev1.Container{c},
	}
	volumes := map[string]bool{}
	for _, vol := range pod.Volumes {
		volumes[vol.Name] = true
	}
	for _, m := range c.VolumeMounts {
		require.True(t, volumes[m.Name], "%s: extraVolumeMounts %s has no extraVolumes entry", file, m.Name)
	}
	podIP := corev1.EnvVar{Name: "MY_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}
	return collector{where: file, container: c, pod: pod, extraEnv: []corev1.EnvVar{podIP}}, c.Command
}

func ptrTo[T any](v T) *T { return &v }

func TestHelmValues(t *testing.T) {
	img := deploytest.ReadDockerfile(t)
	example := deploytest.EnvExample(t)
	files, err := filepath.Glob(filepath.Join("helm", "*.yaml"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"helm/agent-values.yaml", "helm/gateway-values.yaml"}, files)

	values := map[string]chartValues{}
	for _, f := range files {
		v := loadValues(t, f)
		values[filepath.Base(f)] = v
		require.False(t, v.ConfigMap.Create, "%s: the binary runs its embedded config; the chart's must be off", f)
		require.Empty(t, v.Config, "%s: no chart config: it would not be used", f)

		c, command := render(t, f, v)
		require.Equal(t, img.Entrypoint, command, "%s: command.name must be the image's binary", f)
		checkCollector(t, c, c.container.Args, c.container.Image, img, example)

		name, err := deploytest.ConfigArg(v.Command.ExtraArgs)
		require.NoError(t, err)
		// Only the agent reads the Kubernetes API (k8s_attributes: pod labels).
		require.Equal(t, name == "agent", v.ClusterRole.Create, "%s: a ClusterRole only for the agent's k8s_attributes", f)
		require.Equal(t, name == "agent", v.ClusterRole.Create && len(v.ClusterRole.Rules) > 0, "%s: clusterRole.rules", f)
		want := map[string]string{"agent": "daemonset", "gateway": "deployment"}[name]
		require.Equal(t, want, v.Mode, "%s: airi:%s runs as a %s", f, name, want)
		require.True(t, strings.HasPrefix(filepath.Base(f), name+"-"), "%s runs airi:%s", f, name)
	}

	// The agents' load_balancing exporter must resolve every gateway replica: the chart's Service
	// for the gateway is headless and AIRI_GATEWAY_HOST names it, on its OTLP gRPC port.
	agent, gw := values["agent-values.yaml"], values["gateway-values.yaml"]
	env := map[string]string{}
	for _, e := range asK8s[[]corev1.EnvVar](t, "agent extraEnvs", agent.ExtraEnvs) {
		env[e.Name] = e.Value
	}
	require.Equal(t, "None", gw.Service.ClusterIP, "the gateway's Service must be headless")
	require.True(t, gw.Service.Enabled != nil && *gw.Service.Enabled)
	require.Equal(t, gw.FullnameOverride, strings.Split(env["AIRI_GATEWAY_HOST"], ".")[0])
	require.Equal(t, env["AIRI_GATEWAY_OTLP_PORT"], fmt.Sprint(gw.Ports["otlp"].ServicePort))
	require.True(t, gw.Autoscaling.HPA.Enabled)
	require.NotNil(t, gw.ReplicaCount)
	require.Equal(t, *gw.ReplicaCount, gw.Autoscaling.HPA.MinReplicas)
	require.True(t, gw.PodDisruptionBudget.Enabled)
	require.Less(t, gw.PodDisruptionBudget.MaxUnavailable, gw.Autoscaling.HPA.MinReplicas)
	for name, p := range agent.Ports {
		if p.Enabled && strings.HasPrefix(name, "otlp") {
			require.Equal(t, p.ContainerPort, p.HostPort, "agent %s: node-local OTLP through hostPort", name)
		}
	}
}
