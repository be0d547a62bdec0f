{{/*
Helpers. Everything the container and its volumes need reads only .Values and .Release,
so an application chart that depends on this chart can render the sidecar with

  containers:
    {{- include "kratos-gateway.sidecarContainer" (dict "Values" (index .Values "kratos-gateway") "Release" .Release) | nindent 4 }}
  volumes:
    {{- include "kratos-gateway.sidecarVolumes" (dict "Values" (index .Values "kratos-gateway") "Release" .Release) | nindent 4 }}

The chart name is therefore a constant here, not .Chart.Name (which would be the
parent chart's name in that call).
*/}}

{{- define "kratos-gateway.name" -}}
{{- default "kratos-gateway" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Must equal appVersion in Chart.yaml (a unit test checks). */}}
{{- define "kratos-gateway.appVersion" -}}
0.1.0
{{- end }}

{{- define "kratos-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "kratos-gateway.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kratos-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kratos-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels for objects this chart renders itself (needs the chart's own context). */}}
{{- define "kratos-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kratos-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kratos-gateway
{{- end }}

{{- define "kratos-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kratos-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
No public image is published, so there is no default to fall back on; the schema
requires image.repository too, this message is for renders that skip the schema.
*/}}
{{- define "kratos-gateway.image" -}}
{{- if not .Values.image.repository }}
{{- fail "image.repository is required: no public kratos-gateway image is published. Build the repository's Dockerfile, push it to your registry and set image.repository (see the chart README, \"Image\")" }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default (include "kratos-gateway.appVersion" .)) }}
{{- end }}
{{- end }}

{{/* Name of the Secret loaded with envFrom, or "" when there is none. */}}
{{- define "kratos-gateway.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else if and .Values.secret.create .Values.secret.env }}
{{- include "kratos-gateway.fullname" . }}
{{- end }}
{{- end }}

{{/*
Render-time checks the JSON schema cannot express. The gateway drains for
config.proxy.shutdown_grace_ms after SIGTERM; the kubelet kills it at
terminationGracePeriodSeconds, counted from the start of the preStop hook.
*/}}
{{- define "kratos-gateway.validate" -}}
{{- $drainMs := dig "proxy" "shutdown_grace_ms" 10000 .Values.config | int }}
{{- $needed := add (div (add $drainMs 999) 1000) (.Values.preStopSleepSeconds | int) }}
{{- if le (.Values.terminationGracePeriodSeconds | int) ($needed | int) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than preStopSleepSeconds plus config.proxy.shutdown_grace_ms (%d s in total)" (.Values.terminationGracePeriodSeconds | int) ($needed | int)) }}
{{- end }}
{{- if and (eq .Values.mode "sidecar") .Values.podMonitor.enabled (not .Values.podMonitor.selectorLabels) }}
{{- fail "podMonitor.selectorLabels (your application pods' labels) is required in sidecar mode" }}
{{- end }}
{{- if and (eq .Values.mode "deployment") .Values.serviceMonitor.enabled (not .Values.adminService.enabled) }}
{{- fail "serviceMonitor.enabled needs adminService.enabled (the ServiceMonitor scrapes the admin Service)" }}
{{- end }}
{{- end }}

{{/*
The gateway container. Used by this chart's Deployment and, through
"kratos-gateway.sidecarContainer", by application charts.
*/}}
{{- define "kratos-gateway.container" -}}
- name: {{ .Values.sidecar.containerName }}
  image: {{ include "kratos-gateway.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - --config
    - /etc/kratos-gateway/gateway.yaml
  env:
    - name: KRATOS_GATEWAY_PROXY__LISTEN__HOST
      value: "0.0.0.0"
    - name: KRATOS_GATEWAY_PROXY__LISTEN__PORT
      value: {{ .Values.ports.proxy | quote }}
    - name: KRATOS_GATEWAY_ADMIN__LISTEN__HOST
      value: "0.0.0.0"
    - name: KRATOS_GATEWAY_ADMIN__LISTEN__PORT
      value: {{ .Values.ports.admin | quote }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with (include "kratos-gateway.secretName" .) }}
  envFrom:
    - secretRef:
        name: {{ . }}
  {{- end }}
  ports:
    - name: kg-proxy
      containerPort: {{ .Values.ports.proxy }}
      protocol: TCP
    - name: kg-admin
      containerPort: {{ .Values.ports.admin }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /health/alive
      port: kg-admin
    periodSeconds: {{ .Values.startupProbe.periodSeconds }}
    timeoutSeconds: {{ .Values.startupProbe.timeoutSeconds }}
    failureThreshold: {{ .Values.startupProbe.failureThreshold }}
  livenessProbe:
    httpGet:
      path: /health/alive
      port: kg-admin
    periodSeconds: {{ .Values.livenessProbe.periodSeconds }}
    timeoutSeconds: {{ .Values.livenessProbe.timeoutSeconds }}
    failureThreshold: {{ .Values.livenessProbe.failureThreshold }}
  readinessProbe:
    httpGet:
      path: /health/ready
      port: kg-admin
    periodSeconds: {{ .Values.readinessProbe.periodSeconds }}
    timeoutSeconds: {{ .Values.readinessProbe.timeoutSeconds }}
    failureThreshold: {{ .Values.readinessProbe.failureThreshold }}
  {{- if gt (.Values.preStopSleepSeconds | int) 0 }}
  lifecycle:
    preStop:
      exec:
        command:
          - sleep
          - {{ .Values.preStopSleepSeconds | quote }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: kratos-gateway-config
      mountPath: /etc/kratos-gateway
      readOnly: true
    - name: kratos-gateway-tmp
      mountPath: /tmp
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "kratos-gateway.volumes" -}}
- name: kratos-gateway-config
  configMap:
    name: {{ include "kratos-gateway.fullname" . }}
- name: kratos-gateway-tmp
  emptyDir:
    sizeLimit: 16Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Public names for application charts (sidecar mode). */}}
{{- define "kratos-gateway.sidecarContainer" -}}
{{ include "kratos-gateway.container" . }}
{{- end }}

{{- define "kratos-gateway.sidecarVolumes" -}}
{{ include "kratos-gateway.volumes" . }}
{{- end }}

{{/* Pod annotation that rolls the pods when the configuration changes. */}}
{{- define "kratos-gateway.configChecksum" -}}
{{ toYaml .Values.config | sha256sum }}
{{- end }}
