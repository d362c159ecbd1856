{{/*
Names, labels and the checks that stop a broken configuration at render time.
*/}}

{{- define "laurel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "laurel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* laurel.svcname: "<fullname>-<service>"; dict "root" $ "svc" "rules". */}}
{{- define "laurel.svcname" -}}
{{- printf "%s-%s" (include "laurel.fullname" .root | trunc 52 | trimSuffix "-") .svc }}
{{- end }}

{{- define "laurel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "laurel.labels" -}}
helm.sh/chart: {{ include "laurel.chart" . }}
app.kubernetes.io/name: {{ include "laurel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: laurel
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one service's objects; dict "root" $ "svc" "rules". */}}
{{- define "laurel.svcLabels" -}}
{{ include "laurel.labels" .root }}
app.kubernetes.io/component: {{ .svc }}
{{- end }}

{{/* Selector of one service's pods: stable across upgrades, so never add to it. */}}
{{- define "laurel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "laurel.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .svc }}
{{- end }}

{{/* Selector of every Laurel pod of this release. */}}
{{- define "laurel.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "laurel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* metadata.annotations from commonAnnotations, at metadata's indentation; or nothing. */}}
{{- define "laurel.annotations" -}}
{{- with .Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end }}

{{- define "laurel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "laurel.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "laurel.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The grpc.health.v1 service name each service reports its readiness under. */}}
{{- define "laurel.healthName" -}}
{{- printf "laurel.%s.v1.%sService" . (title .) }}
{{- end }}

{{/* The chart-managed Secret's name; it exists only when some secret value is inline. */}}
{{- define "laurel.secretName" -}}
{{- printf "%s-secrets" (include "laurel.fullname" .) }}
{{- end }}

{{- define "laurel.hasInlineSecret" -}}
{{- $v := .Values }}
{{- if or (and $v.nats.credentials.enabled (not $v.nats.credentials.existingSecret) $v.nats.credentials.value) (and (not $v.redis.password.existingSecret) $v.redis.password.value) (and (not $v.masterKey.existingSecret) $v.masterKey.value) }}true{{ end }}
{{- end }}

{{- define "laurel.publicURL" -}}
{{- if .Values.publicURL }}
{{- .Values.publicURL | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- printf "https://%s" (index .Values.ingress.hosts 0).host }}
{{- end }}
{{- end }}

{{/*
laurel.validate fails the render on settings that would deploy something broken. Included
once, from the ConfigMap.
*/}}
{{- define "laurel.validate" -}}
{{- $v := .Values }}
{{- $names := list "issuer" "rules" "notifier" "verifier" }}
{{- range $name, $_ := $v.services }}
{{- if not (has $name $names) }}
{{- fail (printf "services.%s: unknown service (want one of %s)" $name (join ", " $names)) }}
{{- end }}
{{- end }}
{{- if or (lt (int $v.partitions) 1) (gt (int $v.partitions) 1024) }}
{{- fail "partitions must be between 1 and 1024" }}
{{- end }}
{{- if le (int $v.terminationGracePeriodSeconds) (add $v.shutdownTimeoutSeconds $v.preStopSleepSeconds | int) }}
{{- fail "terminationGracePeriodSeconds must exceed shutdownTimeoutSeconds + preStopSleepSeconds, or the kubelet kills pods mid-drain" }}
{{- end }}
{{- $rules := $v.services.rules }}
{{- if and $rules.enabled $rules.autoscaling.enabled (not $v.keda.enabled) (gt (int $rules.autoscaling.maxReplicas) (int $v.partitions)) }}
{{- fail "services.rules.autoscaling.maxReplicas must not exceed partitions: each partition has one active rules worker" }}
{{- end }}
{{- if and $v.keda.enabled (gt (int $v.keda.maxReplicaCount) (int $v.partitions)) }}
{{- fail "keda.maxReplicaCount must not exceed partitions: each partition has one active rules worker" }}
{{- end }}
{{- if and $v.nats.credentials.enabled (not $v.nats.credentials.existingSecret) (not $v.nats.credentials.value) }}
{{- fail "nats.credentials.enabled needs nats.credentials.existingSecret or nats.credentials.value" }}
{{- end }}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) }}
{{- fail "ingress.enabled needs at least one ingress.hosts entry" }}
{{- end }}
{{- end }}
