#!/usr/bin/env bash
# Builds the real third-party programs the tests run (MinIO, Helm, kwok, etcd, Metacontroller, the
# Kubernetes control plane and promtool) from source through the Go module proxy, pinned by
# version, and caches each one outside the repository:
#
#   ${CACHE_DIR}/tools/<name>-<version>/<name>   the binary (a directory per version: a new pin
#                                                 builds next to the old one, never over it)
#   ${CACHE_DIR}/bin/<name>                      symlink to the pinned binary
#
# Usage: scripts/build-tools.sh [NAME...]   (default: all tools; NAME from the list in ALL_TOOLS)
#
# Nothing is committed but this script: each build runs in a throw-away module generated here.
# A tool whose binary is already cached costs one stat (a warm run takes well under a second); a
# cold run (empty Go module and build caches) took 10 to 16 minutes on two shared cores.
set -euo pipefail

CACHE_DIR=${CACHE_DIR:-$HOME/.cache/database-operator}
TOOLS_DIR=$CACHE_DIR/tools
BIN_DIR=$CACHE_DIR/bin

# --- Pins. Change a version here and the next run builds it beside the old one. ---------------
MINIO_MODULE=github.com/minio/minio
# MinIO publishes no tagged Go module versions; this is the newest commit the proxy serves.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
HELM_VERSION=v3.21.4
KWOK_VERSION=v0.8.0
ETCD_VERSION=v3.6.16
# Metacontroller's go.mod says `module metacontroller`, so it cannot be installed by its repository
# path: a wrapper requires it under its own name and replaces that with the repository module at
# a version the proxy serves. Its last valid tag for that path is v1.5.20 (v2+ tags lack a /vN
# suffix, so a later release is only reachable by its commit's pseudo-version, v1.5.21-0.<time>-
# <commit>). The proxy here lists no versions of the module and refuses everything but an exact
# served version; v4.17.2's pseudo-version could not be found, so the pin is v1.5.20, the newest
# release that can be fetched. To move to a later release set both of these, for example
#   METACONTROLLER_VERSION=v4.17.2 METACONTROLLER_MODULE_VERSION=v1.5.21-0.<time>-<commit>
# (since v4 the main package is pkg/cmd/metacontroller: set METACONTROLLER_MAIN_PACKAGE too).
METACONTROLLER_VERSION=${METACONTROLLER_VERSION:-v1.5.20}
METACONTROLLER_MODULE_VERSION=${METACONTROLLER_MODULE_VERSION:-v1.5.20}
METACONTROLLER_MAIN_PACKAGE=${METACONTROLLER_MAIN_PACKAGE:-metacontroller}
METACONTROLLER_REPO_MODULE=github.com/metacontroller/metacontroller
KUBERNETES_VERSION=v1.34.4
# promtool (Prometheus' rule checker and unit-test runner) checks the chart's alerting rules.
PROMTOOL_VERSION=v0.316.0

# Build order: MinIO first because other work waits on it; Kubernetes last because it is slow.
ALL_TOOLS=(minio helm kwok etcd metacontroller kube-apiserver kube-controller-manager kube-scheduler
  promtool)
KUBE_TOOLS=(kube-apiserver kube-controller-manager kube-scheduler)

WORK_DIR=""
BUILT=()
CACHED=()
FAILED=()

log() { printf 'build-tools: %s\n' "$*" >&2; }

die() {
  log "ERROR: $*"
  exit 1
}

cleanup() {
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    # Go marks the module cache read-only; the scratch module is ours to remove.
    chmod -R u+w "$WORK_DIR" 2>/dev/null || true
    rm -rf "$WORK_DIR"
  fi
}
trap cleanup EXIT

# Runs a command; on failure names the exact command and its exit status, then stops.
run() {
  local status=0
  "$@" || status=$?
  if ((status != 0)); then
    die "command failed (exit $status): $(printf '%q ' "$@")"
  fi
}

version_of() {
  case $1 in
    minio) echo "$MINIO_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    metacontroller) echo "$METACONTROLLER_VERSION" ;;
    kube-*) echo "$KUBERNETES_VERSION" ;;
    promtool) echo "$PROMTOOL_VERSION" ;;
    *) die "unknown tool '$1' (known: ${ALL_TOOLS[*]})" ;;
  esac
}

tool_dir() { echo "$TOOLS_DIR/$1-$(version_of "$1")"; }

is_cached() { [[ -x "$(tool_dir "$1")/$1" ]]; }

# Points bin/<name> at the pinned build (replacing a link to an older pin).
link_tool() {
  local name=$1
  mkdir -p "$BIN_DIR"
  ln -sfn "$(tool_dir "$name")/$name" "$BIN_DIR/$name"
}

# Moves a freshly built binary into its versioned directory in one rename, so an interrupted build
# never leaves a half-written binary that a later run would mistake for a cached one.
install_binary() {
  local name=$1 built=$2
  local final staging
  final=$(tool_dir "$name")
  staging="$final.partial.$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  run mv "$built" "$staging/$name"
  rm -rf "$final"
  run mv "$staging" "$final"
  link_tool "$name"
}

new_work_dir() {
  cleanup
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/build-tools.XXXXXX")
}

# Writes a scratch main module (go.mod only) in WORK_DIR; callers add requires and replaces.
init_wrapper_module() {
  local go_directive=$1
  new_work_dir
  cat >"$WORK_DIR/go.mod" <<EOF
module database-operator.local/build-tools

go $go_directive
EOF
}

# Path of the go.mod the proxy serves for module@version (downloads it if needed).
served_go_mod() {
  local module_version=$1 json
  json=$(cd "$WORK_DIR" && go mod download -json "$module_version") \
    || die "command failed: go mod download -json $module_version"
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p' <<<"$json"
}

# A module with no replace directives: `go install module/cmd@version` works as is.
go_install() {
  local name=$1 package_version=$2 ldflags=$3
  new_work_dir
  mkdir -p "$WORK_DIR/bin"
  (cd "$WORK_DIR" && GOBIN="$WORK_DIR/bin" run go install -ldflags "$ldflags" "$package_version")
  install_binary "$name" "$WORK_DIR/bin/$(basename "${package_version%@*}")"
}

build_minio() {
  # No version ldflags: MinIO then reports itself as a development build, which changes nothing
  # for a local S3 endpoint.
  go_install minio "$MINIO_MODULE@$MINIO_VERSION" ""
}

build_helm() {
  # Helm's own Makefile stamps its version and the Kubernetes version of its client libraries
  # (used for `.Capabilities.KubeVersion` and lint); read the latter from the served go.mod.
  new_work_dir
  local gomod k8s_minor
  gomod=$(served_go_mod "helm.sh/helm/v3@$HELM_VERSION")
  k8s_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")
  [[ -n $k8s_minor ]] || die "could not read k8s.io/client-go's version from $gomod"
  local ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$ldflags"
}

build_kwok() {
  go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  # The tests pick kwok's own Stage definitions (which fake pod lifecycle steps it performs) from
  # the release's kustomize/stage, kept beside the binary.
  local json module_dir
  json=$(cd "$WORK_DIR" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION") \
    || die "command failed: go mod download -json sigs.k8s.io/kwok@$KWOK_VERSION"
  module_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")
  [[ -d $module_dir/kustomize/stage ]] || die "no kustomize/stage in $module_dir"
  rm -rf "$(tool_dir kwok)/stages"
  run cp -R "$module_dir/kustomize/stage" "$(tool_dir kwok)/stages"
  chmod -R u+w "$(tool_dir kwok)/stages"
}

build_promtool() {
  go_install promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" \
    "-X github.com/prometheus/common/version.Version=${PROMTOOL_VERSION#v}"
}

build_etcd() {
  # etcd's server module replaces its sibling modules with ../ paths, which `go install` refuses;
  # from a wrapper module those replaces are ignored and the published siblings are used.
  init_wrapper_module 1.24.0
  (cd "$WORK_DIR" && run go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  (cd "$WORK_DIR" && GOFLAGS="${GOFLAGS:-} -mod=mod" run go build -o "$WORK_DIR/etcd" \
    go.etcd.io/etcd/server/v3)
  install_binary etcd "$WORK_DIR/etcd"
}

build_metacontroller() {
  init_wrapper_module 1.24.0
  (cd "$WORK_DIR" && run go mod edit \
    -require="metacontroller@v0.0.0-00010101000000-000000000000" \
    -replace="metacontroller=$METACONTROLLER_REPO_MODULE@$METACONTROLLER_MODULE_VERSION")
  # The checksum database has no entry for a module whose go.mod names another path; the version
  # (a tag, or a pseudo-version naming the commit) is what pins the source.
  (cd "$WORK_DIR" && GONOSUMDB="$METACONTROLLER_REPO_MODULE${GONOSUMDB:+,$GONOSUMDB}" \
    GOFLAGS="${GOFLAGS:-} -mod=mod" run go build -o "$WORK_DIR/metacontroller" \
    -ldflags "-X main.version=$METACONTROLLER_VERSION" "$METACONTROLLER_MAIN_PACKAGE")
  # Keep the release's own CRDs and RBAC beside the binary: the tests install them from there.
  local module_dir
  module_dir=$(cd "$WORK_DIR" && go list -m -f '{{with .Replace}}{{.Dir}}{{end}}' metacontroller)
  [[ -d $module_dir/manifests/production ]] || die "no manifests/production in $module_dir"
  install_binary metacontroller "$WORK_DIR/metacontroller"
  rm -rf "$(tool_dir metacontroller)/manifests"
  run cp -R "$module_dir/manifests/production" "$(tool_dir metacontroller)/manifests"
  chmod -R u+w "$(tool_dir metacontroller)/manifests"
}

build_kube() {
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging
  # paths. The wrapper replaces each one with its published v0.<minor>.<patch> instead; the list
  # is read from the served go.mod so a new pin needs no edit here.
  local minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  new_work_dir
  local gomod go_directive godebug
  gomod=$(served_go_mod "k8s.io/kubernetes@$KUBERNETES_VERSION")
  go_directive=$(sed -n 's/^go \(.*\)$/\1/p' "$gomod")
  godebug=$(sed -n 's/^godebug \(.*\)$/\1/p' "$gomod")
  init_wrapper_module "$go_directive"
  # Keep the GODEBUG defaults Kubernetes is released with.
  [[ -z $godebug ]] || echo "godebug $godebug" >>"$WORK_DIR/go.mod"
  local -a edits=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION")
  local module
  while read -r module; do
    edits+=(-replace="$module=$module@$staging_version")
  done < <(sed -n 's/^[[:space:]]*\(k8s\.io\/[^[:space:]]*\) => \.\/staging\/.*/\1/p' "$gomod")
  ((${#edits[@]} > 1)) || die "no staging replaces found in $gomod"
  (cd "$WORK_DIR" && run go mod edit "${edits[@]}")

  # Without these, /version reports v0.0.0 and version checks (Helm's kubeVersion) break.
  local ldflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  local tool
  for tool in "${KUBE_TOOLS[@]}"; do
    (cd "$WORK_DIR" && GOFLAGS="${GOFLAGS:-} -mod=mod" run go build -o "$WORK_DIR/$tool" \
      -ldflags "$ldflags" "k8s.io/kubernetes/cmd/$tool")
  done
  for tool in "${KUBE_TOOLS[@]}"; do
    install_binary "$tool" "$WORK_DIR/$tool"
  done
}

# Builds one tool (the three Kubernetes binaries build together) unless cached, under a lock so
# that two concurrent runs wait for each other instead of building the same thing twice.
ensure_tool() {
  local name=$1 version
  version=$(version_of "$name")
  if is_cached "$name"; then
    link_tool "$name"
    CACHED+=("$name $version")
    return
  fi
  mkdir -p "$TOOLS_DIR"
  local lock="$TOOLS_DIR/.$name.lock" builder=$name
  [[ $name != kube-* ]] || { lock="$TOOLS_DIR/.kube.lock"; builder=kube; }
  exec {lock_fd}>"$lock"
  flock "$lock_fd"
  if [[ " ${FAILED[*]} " == *" $builder $version "* ]]; then
    : # already failed in this run (the three Kubernetes binaries build together)
  elif is_cached "$name"; then # built by another run while we waited
    link_tool "$name"
    CACHED+=("$name $version")
  else
    log "building $builder ${version} ..."
    local start=$SECONDS status
    # A subshell, so that one tool's failure is reported and the others still get built. Not
    # `( ... ) || status=$?`: errexit is ignored inside a tested command, so a failing step would
    # not stop the build.
    set +e
    (
      set -e
      trap cleanup EXIT
      "build_${builder//-/_}"
    )
    status=$?
    set -e
    local took=$((SECONDS - start))
    if ((status == 0)); then
      log "built $builder $version in ${took}s"
      BUILT+=("$builder $version: ${took}s")
    else
      log "FAILED $builder $version after ${took}s"
      FAILED+=("$builder $version")
    fi
  fi
  flock -u "$lock_fd"
  exec {lock_fd}>&-
}

main() {
  command -v go >/dev/null || die "go is not installed (needs Go 1.24 or newer)"
  local -a wanted=("$@")
  ((${#wanted[@]} > 0)) || wanted=("${ALL_TOOLS[@]}")
  local name
  for name in "${wanted[@]}"; do
    version_of "$name" >/dev/null # rejects unknown names before any build starts
  done
  local start=$SECONDS
  for name in "${ALL_TOOLS[@]}"; do
    if [[ " ${wanted[*]} " == *" $name "* ]]; then
      ensure_tool "$name"
    fi
  done
  local line
  for line in "${BUILT[@]}"; do log "built:  $line"; done
  for line in "${CACHED[@]}"; do log "cached: $line"; done
  for line in "${FAILED[@]}"; do log "FAILED: $line (see the error above)"; done
  log "done in $((SECONDS - start))s; binaries in $BIN_DIR"
  ((${#FAILED[@]} == 0))
}

main "$@"
