{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "maas-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources. Resource names get suffixes
("-webhook", "-releases"), so keep room for them under 63 characters.
*/}}
{{- define "maas-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "maas-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of everything the chart makes, but for the component. */}}
{{- define "maas-gateway.baseLabels" -}}
helm.sh/chart: {{ include "maas-gateway.chart" . }}
app.kubernetes.io/name: {{ include "maas-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: maas-gateway
{{- end }}

{{- define "maas-gateway.labels" -}}
{{ include "maas-gateway.baseLabels" . }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "maas-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "maas-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "maas-gateway.serviceAccountName" -}}
{{- default (include "maas-gateway.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "maas-gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "%s%s" .Values.image.tagPrefix .Chart.AppVersion) .Values.image.tag) }}
{{- end }}

{{- define "maas-gateway.webhookServiceName" -}}
{{- printf "%s-webhook" (include "maas-gateway.fullname" .) }}
{{- end }}

{{/* The Secret holding the webhook's serving certificate (cert-manager's or the chart's). */}}
{{- define "maas-gateway.webhookCertSecret" -}}
{{- printf "%s-webhook-cert" (include "maas-gateway.fullname" .) }}
{{- end }}

{{- define "maas-gateway.catalogName" -}}
{{- printf "%s-releases" (include "maas-gateway.fullname" .) }}
{{- end }}

{{/* The Secret with the MAAS API key of the Gateway (and by default of the CloudAccount). */}}
{{- define "maas-gateway.maasSecretName" -}}
{{- default (printf "%s-maas-credentials" (include "maas-gateway.fullname" .)) .Values.maas.existingSecret }}
{{- end }}

{{- define "maas-gateway.cloudAccountSecretName" -}}
{{- if .Values.cloudAccount.existingSecret }}
{{- .Values.cloudAccount.existingSecret }}
{{- else if .Values.cloudAccount.apiKey }}
{{- printf "%s-%s-credentials" (include "maas-gateway.fullname" .) .Values.cloudAccount.name }}
{{- else }}
{{- include "maas-gateway.maasSecretName" . }}
{{- end }}
{{- end }}

{{/*
The restricted Pod Security Standard, for every container the chart runs:
non-root, no privilege escalation, no capabilities, read-only root, RuntimeDefault seccomp.
*/}}
{{- define "maas-gateway.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "maas-gateway.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The rules of the manager's ClusterRole: those controller-gen writes to
config/rbac/role.yaml from the +kubebuilder:rbac markers, copied into the
chart by hack/sync-chart.sh (make manifests).
*/}}
{{- define "maas-gateway.managerRules" -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" (.Files.Get "files/manager-role.yaml") -1 }}
{{- $obj := fromYaml $doc }}
{{- if eq (get $obj "kind") "ClusterRole" }}
{{- toYaml (get $obj "rules") }}
{{- end }}
{{- end }}
{{- end }}
