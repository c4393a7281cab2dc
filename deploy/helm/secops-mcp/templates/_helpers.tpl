{{/* Chart name. */}}
{{- define "secops-mcp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name (the chart is installed once per server, so it is unique). */}}
{{- define "secops-mcp.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "secops-mcp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "secops-mcp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "secops-mcp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.server }}
{{- end }}

{{- define "secops-mcp.labels" -}}
helm.sh/chart: {{ include "secops-mcp.chart" . }}
{{ include "secops-mcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/part-of: secops-mcp
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "secops-mcp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "secops-mcp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pod mounts its secret files from. */}}
{{- define "secops-mcp.secretName" -}}
{{- if and (eq .Values.secrets.source "existing") .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "secops-mcp.fullname" . }}
{{- end }}
{{- end }}

{{/* Every key the Secret must hold: the secret files plus the HS256 key. */}}
{{- define "secops-mcp.secretKeys" -}}
{{- $keys := list }}
{{- range .Values.secrets.files }}{{ $keys = append $keys .key }}{{ end }}
{{- if and (eq .Values.auth.mode "jwt") .Values.auth.jwt.hs256.enabled }}
{{- $keys = append $keys .Values.auth.jwt.hs256.secretKey }}
{{- end }}
{{- if .Values.changes.stateKey.enabled }}
{{- $keys = append $keys .Values.changes.stateKey.secretKey }}
{{- end }}
{{- $keys | uniq | toJson }}
{{- end }}

{{/* The variable that carries upstream.host for each server. */}}
{{- define "secops-mcp.hostEnv" -}}
{{- $m := dict "paloalto-ngfw" "PANOS_HOST" "panw-airs" "PANW_AI_SEC_API_ENDPOINT" "proxmox" "PROXMOX_HOST" "aws-whitelist" "AWS_ENDPOINT_URL" }}
{{- required (printf "unknown server %q" .Values.server) (get $m .Values.server) }}
{{- end }}

{{- define "secops-mcp.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}
{{- end }}

{{- define "secops-mcp.publicUrl" -}}
{{- if .Values.mcp.publicUrl }}
{{- .Values.mcp.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.host }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- end }}
{{- end }}

{{- define "secops-mcp.allowedHosts" -}}
{{- $hosts := list }}
{{- if and .Values.ingress.enabled .Values.ingress.host }}{{ $hosts = append $hosts .Values.ingress.host }}{{ end }}
{{- range .Values.mcp.allowedHosts }}{{ $hosts = append $hosts . }}{{ end }}
{{- if .Values.mcp.allowInClusterHosts }}
{{- $svc := include "secops-mcp.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $hosts = concat $hosts (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) }}
{{- end }}
{{- $hosts | uniq | join "," }}
{{- end }}

{{/* "true" when the replicas share a state store (state.existingSecret.name or state.url). */}}
{{- define "secops-mcp.stateEnabled" -}}
{{- if or .Values.state.existingSecret.name .Values.state.url }}true{{ end }}
{{- end }}

{{/* Where the state Secret's key is mounted (MCP_STATE_URL_FILE). */}}
{{- define "secops-mcp.stateMountPath" -}}
/var/run/secrets/secops-mcp-state
{{- end }}

{{/* Legacy SSE needs a sticky route when more than one replica may serve it, unless
the replicas share a state store (a POST /messages/ is then relayed to the stream's replica). */}}
{{- define "secops-mcp.sseSticky" -}}
{{- if and .Values.sse.enabled (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) (not (include "secops-mcp.stateEnabled" .)) }}true{{ end }}
{{- end }}

{{- define "secops-mcp.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "secops-mcp.fullname" .)) .Values.ingress.tls.secretName }}
{{- end }}
