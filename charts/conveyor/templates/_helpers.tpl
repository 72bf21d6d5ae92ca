{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "conveyor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name: <release>-conveyor, or fullnameOverride. */}}
{{- define "conveyor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "conveyor.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "conveyor.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "conveyor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "conveyor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: conveyor
{{- end }}

{{/* Selector labels of one service; call with (dict "root" $ "service" NAME). */}}
{{- define "conveyor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conveyor.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{/* Name of one service's objects: <fullname>-<service>. */}}
{{- define "conveyor.serviceName" -}}
{{- printf "%s-%s" (include "conveyor.fullname" .root) .service | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image reference; the tag defaults to the chart's appVersion. */}}
{{- define "conveyor.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "conveyor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "conveyor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* One service's settings: .Values.defaults overridden by .Values.services.<name>. */}}
{{- define "conveyor.settings" -}}
{{- $svc := index .root.Values.services .service | default dict }}
{{- mustMergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $svc) | toYaml }}
{{- end }}

{{/* The enabled services, in pipeline order, as a YAML list. */}}
{{- define "conveyor.enabledServices" -}}
{{- range $name := list "webhook" "test-runner" "version-tagger" "image-builder" "helm-updater" "deployer" "health-verifier" "notifier" }}
{{- $svc := index $.Values.services $name | default dict }}
{{- if (hasKey $svc "enabled" | ternary $svc.enabled true) }}
- {{ $name }}
{{- end }}
{{- end }}
{{- end }}
