{{- define "pull-secrets.name" -}}
{{- printf "%s" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "pull-secrets.labels" -}}
app.kubernetes.io/name: docker-credential-cloud-pull-secrets
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "pull-secrets.podLabels" -}}
{{ include "pull-secrets.labels" . }}
{{- if .Values.identity.azure.clientId }}
azure.workload.identity/use: "true"
{{- end }}
{{- end -}}
