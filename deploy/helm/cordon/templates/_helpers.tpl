{{/* Names, labels and the pieces several templates share. */}}

{{- define "cordon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cordon.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cordon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cordon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "cordon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cordon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cordon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cordon.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cordon.image" -}}
{{- $img := .image | default dict -}}
{{- $repo := $img.repository | default .root.Values.image.repository -}}
{{- $tag := $img.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/* Where the policy set comes from: bundle, configmap, or image. */}}
{{- define "cordon.policySource" -}}
{{- if .Values.policies.bundle.url -}}
bundle
{{- else if or .Values.policies.files .Values.policies.existingConfigMap -}}
configmap
{{- else -}}
image
{{- end -}}
{{- end -}}

{{- define "cordon.policyConfigMap" -}}
{{- .Values.policies.existingConfigMap | default (printf "%s-policies" (include "cordon.fullname" .)) -}}
{{- end -}}

{{/* Refuses values that would deploy something unsafe or broken. */}}
{{- define "cordon.validate" -}}
{{- $replicas := int .Values.replicaCount -}}
{{- if and (or (gt $replicas 1) .Values.autoscaling.enabled) (not .Values.storage.postgres.existingSecret) -}}
{{- fail "more than one replica (replicaCount > 1 or autoscaling) needs storage.postgres.existingSecret: the embedded stores are one pod's own" -}}
{{- end -}}
{{- $auditOn := ne (toString (dig "audit" "enabled" true (.Values.config | default dict))) "false" -}}
{{- if and (or (gt $replicas 1) .Values.autoscaling.enabled) $auditOn (not .Values.audit.signingKey.existingSecret) -}}
{{- fail "more than one replica needs audit.signingKey.existingSecret: every node of the shared audit log may sign its checkpoints, with one key" -}}
{{- end -}}
{{- if and .Values.storage.redis.existingSecret (not .Values.storage.postgres.existingSecret) -}}
{{- fail "storage.redis needs storage.postgres" -}}
{{- end -}}
{{- if and .Values.policies.bundle.url (not .Values.policies.bundle.publicKey) -}}
{{- fail "policies.bundle.url needs policies.bundle.publicKey: an unsigned bundle is never loaded" -}}
{{- end -}}
{{- if and .Values.policies.files .Values.policies.existingConfigMap -}}
{{- fail "give policies.files or policies.existingConfigMap, not both" -}}
{{- end -}}
{{- if and .Values.kernel.enabled (or (not .Values.kernel.agent) (not .Values.kernel.command)) -}}
{{- fail "kernel.enabled needs kernel.agent and kernel.command (the agent run under the kernel rules)" -}}
{{- end -}}
{{- end -}}

{{/* cordon.yaml: the user's config, with what the chart owns set over it. */}}
{{- define "cordon.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $_ := set $cfg "host" "0.0.0.0" -}}
{{- $_ := set $cfg "port" (int .Values.service.port) -}}
{{- $_ := set $cfg "data" "/var/lib/cordon" -}}
{{- $src := include "cordon.policySource" . -}}
{{- if eq $src "bundle" -}}
{{- $_ := set $cfg "policies" .Values.policies.bundle.url -}}
{{- $_ := set $cfg "policyBundle" (dict "publicKey" .Values.policies.bundle.publicKey "pollSeconds" (int .Values.policies.bundle.pollSeconds)) -}}
{{- else -}}
{{- $_ := set $cfg "policies" "/etc/cordon/policies" -}}
{{- end -}}
{{- if .Values.audit.signingKey.existingSecret -}}
{{- $audit := deepCopy (get $cfg "audit" | default dict) -}}
{{- $_ := set $audit "signingKey" "/etc/cordon/keys/audit/key.pem" -}}
{{- $_ := set $cfg "audit" $audit -}}
{{- end -}}
{{- if .Values.auth.peps -}}
{{- $auth := deepCopy (get $cfg "auth" | default dict) -}}
{{- $peps := list -}}
{{- range .Values.auth.peps -}}
{{- $peps = append $peps (dict "name" .name "credentialFile" (printf "/etc/cordon/peps/%s/credential" .name)) -}}
{{- end -}}
{{- $_ := set $auth "peps" $peps -}}
{{- $_ := set $cfg "auth" $auth -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
