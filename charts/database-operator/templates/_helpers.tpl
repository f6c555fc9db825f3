{{/*
Named templates shared by every manifest of the chart. Names are cut to 63 characters because
Kubernetes caps label values (and DNS-1123 labels such as Service names) there.
*/}}

{{/*
database-operator.name: the chart name, or .Values.nameOverride. Used for the
app.kubernetes.io/name label.
*/}}
{{- define "database-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
database-operator.fullname: the prefix of every resource name. .Values.fullnameOverride when set;
otherwise the release name, plus the chart name unless the release name already contains it
(release "database-operator" gives "database-operator", release "ops" gives
"ops-database-operator").
*/}}
{{- define "database-operator.fullname" -}}
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

{{/*
database-operator.chart: "<chart>-<version>" for the helm.sh/chart label ("+" is not allowed in
label values).
*/}}
{{- define "database-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
database-operator.labels: the labels of every object the chart creates.
*/}}
{{- define "database-operator.labels" -}}
helm.sh/chart: {{ include "database-operator.chart" . }}
{{ include "database-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: database-operator
{{- end }}

{{/*
database-operator.selectorLabels: the labels that identify this release's objects. They end up in
the Deployment's selector, which is immutable: never add a label here that can change between
upgrades (a version, a chart label).
*/}}
{{- define "database-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "database-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
database-operator.hooks.labels / database-operator.hooks.selectorLabels: the same, with the
component of the hooks workload (its Deployment, pods, Service, PodDisruptionBudget).
*/}}
{{- define "database-operator.hooks.labels" -}}
{{ include "database-operator.labels" . }}
app.kubernetes.io/component: hooks
{{- end }}

{{- define "database-operator.hooks.selectorLabels" -}}
{{ include "database-operator.selectorLabels" . }}
app.kubernetes.io/component: hooks
{{- end }}

{{/*
database-operator.hooks.name: the name of the hooks Deployment, Service and PodDisruptionBudget,
"<fullname>-hooks" (cut so that the suffix always survives).
*/}}
{{- define "database-operator.hooks.name" -}}
{{- printf "%s-hooks" (include "database-operator.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/*
database-operator.serviceAccountName: the hooks pods' ServiceAccount (default "<fullname>-hooks"
when the chart creates it, else the namespace's "default").
*/}}
{{- define "database-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "database-operator.hooks.name" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
database-operator.image: "repository@digest" when a digest is set, else "repository:tag" (the tag
defaults to the chart's appVersion).
*/}}
{{- define "database-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
database-operator.webhook: the `webhook` of one Metacontroller hook, calling the hooks Service
(or `metacontroller.hooksURL`, for hooks served outside the cluster).
Called with (dict "root" $ "path" "/sync/..."). The timeout is explicit: a hook answers in
milliseconds, and a hung call should fail and be retried by Metacontroller, not hold a worker.
*/}}
{{- define "database-operator.webhook" -}}
{{- if .root.Values.metacontroller.hooksURL -}}
url: {{ trimSuffix "/" .root.Values.metacontroller.hooksURL }}{{ .path }}
{{- else -}}
service:
  name: {{ include "database-operator.hooks.name" .root }}
  namespace: {{ .root.Release.Namespace }}
  port: {{ .root.Values.service.port }}
  protocol: http
path: {{ .path }}
{{- end }}
timeout: 10s
{{- end }}
