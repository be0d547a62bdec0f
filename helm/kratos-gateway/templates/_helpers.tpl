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
The shared session cache (sharedCache.redis). The Redis URL may hold a password, so it only
ever reaches the container from a Secret: the one this chart creates from sharedCache.redis.url
(<fullname>-redis, key redis-url) or the user's existingSecret. "" when there is none.
*/}}
{{- define "kratos-gateway.redisUrlSecretName" -}}
{{- if .Values.sharedCache.redis.existingSecret }}
{{- .Values.sharedCache.redis.existingSecret }}
{{- else if .Values.sharedCache.redis.url }}
{{- printf "%s-redis" (include "kratos-gateway.fullname" .) }}
{{- end }}
{{- end }}

{{- define "kratos-gateway.redisUrlSecretKey" -}}
{{- if .Values.sharedCache.redis.existingSecret }}
{{- .Values.sharedCache.redis.existingSecretKey | default "redis-url" }}
{{- else }}
{{- "redis-url" }}
{{- end }}
{{- end }}

{{/* Where tls.existingSecret is mounted; proxy.tls.cert_file and key_file point into it. */}}
{{- define "kratos-gateway.tlsDir" -}}
/etc/kratos-gateway-tls
{{- end }}

{{/* Where the password Secret is mounted; session_cache.shared.password_file points here. */}}
{{- define "kratos-gateway.redisPasswordFile" -}}
/etc/kratos-gateway-redis/password
{{- end }}

{{/*
"true" when the pods get a Redis URL: from sharedCache.redis, or set by hand as
KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL in secret.env or extraEnv. A URL inside
secret.existingSecret cannot be seen at render time (NOTES.txt says so).
*/}}
{{- define "kratos-gateway.sharedCacheConfigured" -}}
{{- $found := include "kratos-gateway.redisUrlSecretName" . }}
{{- if and .Values.secret.create (not .Values.secret.existingSecret) (dig "env" "KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL" "" .Values.secret) }}
{{- $found = "secret.env" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if eq .name "KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL" }}
{{- $found = "extraEnv" }}
{{- end }}
{{- end }}
{{- if $found }}true{{ end }}
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
{{- if dig "session_cache" "shared" "redis_url" "" .Values.config }}
{{- fail "config.session_cache.shared.redis_url would put the Redis URL (and any password in it) into the ConfigMap: set sharedCache.redis.url (the chart keeps it in a Secret) or sharedCache.redis.existingSecret instead" }}
{{- end }}
{{- if and .Values.sharedCache.redis.url .Values.sharedCache.redis.existingSecret }}
{{- fail "sharedCache.redis.url and sharedCache.redis.existingSecret are both set: set one" }}
{{- end }}
{{- if and .Values.sharedCache.redis.passwordSecret.name (not (include "kratos-gateway.redisUrlSecretName" .)) }}
{{- fail "sharedCache.redis.passwordSecret needs sharedCache.redis.url or sharedCache.redis.existingSecret (the password is for that Redis)" }}
{{- end }}
{{- if and .Values.tls.existingSecret (or (dig "proxy" "tls" "cert_file" "" .Values.config) (dig "proxy" "tls" "key_file" "" .Values.config)) }}
{{- fail "config.proxy.tls.cert_file/key_file and tls.existingSecret are both set: the chart points them at the mounted Secret, remove the config keys" }}
{{- end }}
{{- if and .Values.sharedCache.redis.passwordSecret.name (dig "session_cache" "shared" "password_file" "" .Values.config) }}
{{- fail "config.session_cache.shared.password_file and sharedCache.redis.passwordSecret are both set: the chart points password_file at the mounted Secret, remove the config key" }}
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
    {{- with (include "kratos-gateway.redisUrlSecretName" .) }}
    - name: KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL
      valueFrom:
        secretKeyRef:
          name: {{ . }}
          key: {{ include "kratos-gateway.redisUrlSecretKey" $ }}
    {{- end }}
    {{- if .Values.sharedCache.redis.passwordSecret.name }}
    - name: KRATOS_GATEWAY_SESSION_CACHE__SHARED__PASSWORD_FILE
      value: {{ include "kratos-gateway.redisPasswordFile" . | quote }}
    {{- end }}
    {{- if .Values.tls.existingSecret }}
    - name: KRATOS_GATEWAY_PROXY__TLS__CERT_FILE
      value: {{ printf "%s/tls.crt" (include "kratos-gateway.tlsDir" .) | quote }}
    - name: KRATOS_GATEWAY_PROXY__TLS__KEY_FILE
      value: {{ printf "%s/tls.key" (include "kratos-gateway.tlsDir" .) | quote }}
    {{- end }}
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
    {{- if .Values.sharedCache.redis.passwordSecret.name }}
    - name: kratos-gateway-redis
      mountPath: /etc/kratos-gateway-redis
      readOnly: true
    {{- end }}
    {{- if .Values.tls.existingSecret }}
    # The whole volume, never a subPath: Kubernetes updates a Secret volume by swapping its
    # ..data symlink, which the gateway watches; a subPath mount would never see a renewal.
    - name: kratos-gateway-tls
      mountPath: {{ include "kratos-gateway.tlsDir" . }}
      readOnly: true
    {{- end }}
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
{{- if .Values.sharedCache.redis.passwordSecret.name }}
- name: kratos-gateway-redis
  secret:
    secretName: {{ .Values.sharedCache.redis.passwordSecret.name }}
    # 0444: the pod's fsGroup is the application's in sidecar mode, so group-only modes may not
    # reach uid 10001; only the gateway container mounts this volume.
    defaultMode: 292
    items:
      - key: {{ .Values.sharedCache.redis.passwordSecret.key | default "password" }}
        path: password
{{- end }}
{{- if .Values.tls.existingSecret }}
- name: kratos-gateway-tls
  secret:
    secretName: {{ .Values.tls.existingSecret }}
    # 0444 for the reason given for the Redis password above; only the gateway container mounts it.
    defaultMode: 292
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
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
