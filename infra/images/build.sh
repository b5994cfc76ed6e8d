#!/usr/bin/env bash
# infra/images/build.sh: the platform's container images, built without a Docker engine
# and without any container registry. buildah builds infra/images/Dockerfile from
#   - binaries built beforehand (CHAT_BIN_DIR), copied to .state/images/bin/,
#   - the web client (services/web built with npm, or CHAT_WEB_DIST), in .state/images/web/,
#   - a runtime base made here with debootstrap from Debian's packages
#     (localhost/chat-runtime-base:bookworm), cached under .state/images/base/.
# Then every image is checked by running its binary inside its own root filesystem as the
# image's user, its size and layers are printed, and it is written as an OCI archive.
#
#   infra/images/build.sh [gateway|projector|chatctl|all]...   build and check (default: all)
#   infra/images/build.sh base                                  only the runtime base
#   infra/images/build.sh buildah ARGS...                       buildah on this script's store
#                                                               (e.g. `buildah images`)
#
# Environment:
#   CHAT_BIN_DIR         the binaries to package (default: target/release); built for
#                        Debian bookworm's glibc 2.36 or older
#   CHAT_WEB_DIST        a built web client to use as is (default: build services/web)
#   CHAT_IMAGE_TAG       the tag (default: the commit's short id, "-dirty" when the work
#                        tree has uncommitted changes)
#   CHAT_STRIP_DEBUG     1 (default) drops the binaries' debug sections, as the Dockerfile's
#                        rust-build stage does; 0 keeps them
#   CHAT_BASE_REFRESH    1 makes the runtime base again (to take Debian's latest updates)
#   CHAT_DEBIAN_MIRROR   Debian mirror for debootstrap (default: the one apt uses here)
#   CHAT_ARCHIVE_FORMAT  manifest of the OCI archives: v2s2 (default, keeps HEALTHCHECK)
#                        or oci (pure OCI; the health check is dropped)
#
# Images go to buildah's storage under .state/images/containers/ (vfs driver, no overlay
# or user namespace needed); nothing touches the system-wide container storage. Needs
# root (debootstrap, chroot) and the Debian packages buildah and debootstrap.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$INFRA_DIR/lib/common.sh"
# shellcheck source=SCRIPTDIR/../lib/web.sh
source "$INFRA_DIR/lib/web.sh"

# The Dockerfile's prebuilt stages copy from these paths of the build context, so they
# are fixed relative to the repository, whatever CHAT_STATE_DIR says.
IMAGES_DIR="$REPO_ROOT/.state/images"
STORE_DIR="$IMAGES_DIR/containers"
BASE_DIR="$IMAGES_DIR/base"
DOCKERFILE="$REPO_ROOT/infra/images/Dockerfile"
IGNOREFILE="$REPO_ROOT/infra/images/Dockerfile.dockerignore"
SUITE=bookworm
BASE_IMAGE="localhost/chat-runtime-base:$SUITE"
# The image's user (USER in the Dockerfile).
IMAGE_UID=10001
BIN_DIR="${CHAT_BIN_DIR:-$REPO_ROOT/target/release}"

# buildah on the script's own store. chroot isolation: a `buildah run` needs neither a
# user namespace nor an OCI runtime.
bh() {
  buildah --root "$STORE_DIR/storage" --runroot "$STORE_DIR/run" --storage-driver vfs "$@"
}
export BUILDAH_ISOLATION=chroot

need() {
  local tool="$1" pkg="$2"
  command -v "$tool" >/dev/null ||
    die "$tool is missing: install it with \`apt-get install -y $pkg\` (Debian bookworm has it)"
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "this needs root (debootstrap, chroot and buildah's vfs store); run it with sudo"
}

# target -> image name (also the binary's name and the ECR repository's).
image_of() {
  case "$1" in
    gateway) echo chat-gateway ;;
    projector) echo chat-projector ;;
    chatctl) echo chatctl ;;
    *) return 1 ;;
  esac
}

# ---------------------------------------------------------------------------------------
# The runtime base: debootstrap's minbase (dpkg, apt, bash, coreutils, glibc, zlib,
# libgcc) plus ca-certificates and libssl3, Debian's updates applied, the user 10001, and
# no apt sources, logs or documentation beyond the copyright files.

# "URI SUITE" for every enabled deb source apt uses here, one-line and deb822 formats.
apt_suite_uris() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush(  i, j, nu, ns, u, s) {
        if (enabled && types ~ /(^| )deb( |$)/) {
          nu = split(uris, u, " "); ns = split(suites, s, " ")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
        }
        types = ""; uris = ""; suites = ""; enabled = 1
      }
      BEGIN { enabled = 1 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      /^Enabled:/ { if ($2 == "no") enabled = 0 }
      END { flush() }
    ' "$f"
  done
}

# The first URI apt uses here for SUITE (empty when none).
apt_uri_for() {
  apt_suite_uris | awk -v s="$1" '$2 == s { print $1; exit }'
}

# Unmount whatever is mounted under DIR (a debootstrap or chroot that was interrupted),
# so that rm -rf cannot reach through a mount.
unmount_under() {
  local dir="$1" m
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

base_rootfs() {
  need debootstrap debootstrap
  local tmp="$BASE_DIR/rootfs.tmp" mirror security updates logf="$BASE_DIR/debootstrap.log"
  mkdir -p "$BASE_DIR"
  unmount_under "$tmp"
  rm -rf "$tmp"
  mirror="${CHAT_DEBIAN_MIRROR:-$(apt_uri_for "$SUITE")}"
  log "making the runtime base: debootstrap --variant=minbase $SUITE (log: $logf)"
  # With no mirror given, debootstrap uses its built-in default.
  # shellcheck disable=SC2086 # $mirror is one word or none
  nice debootstrap --variant=minbase --components=main --include=ca-certificates,libssl3 \
    "$SUITE" "$tmp" $mirror >"$logf" 2>&1 ||
    { tail -n 30 "$logf" >&2; unmount_under "$tmp"; die "debootstrap failed (log: $logf)"; }

  # Debian's point-release and security updates, from the same mirrors apt uses here.
  security="$(apt_uri_for "$SUITE-security")"
  updates="$(apt_uri_for "$SUITE-updates")"
  {
    [ -n "$mirror" ] && echo "deb $mirror $SUITE main"
    [ -n "$mirror" ] && [ -n "$updates" ] && echo "deb $updates $SUITE-updates main"
    [ -n "$security" ] && echo "deb $security $SUITE-security main"
  } >"$tmp/etc/apt/sources.list"
  [ -n "$security" ] || warn "no $SUITE-security source in apt's sources here: the base has no security updates"
  log "applying Debian's updates to the runtime base"
  mount -t proc proc "$tmp/proc"
  if ! { chroot "$tmp" apt-get update -q && \
         chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade; } >>"$logf" 2>&1; then
    unmount_under "$tmp"
    tail -n 30 "$logf" >&2
    die "apt-get upgrade in the runtime base failed (log: $logf)"
  fi
  umount "$tmp/proc"

  chroot "$tmp" groupadd --gid "$IMAGE_UID" chat
  chroot "$tmp" useradd --uid "$IMAGE_UID" --gid "$IMAGE_UID" --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin chat

  # What a container does not need: package lists and archives, apt sources (they name
  # this machine's mirror; nothing installs packages into a running image), logs, the
  # host's resolv.conf and hostname that debootstrap copied (the runtime provides both),
  # and documentation other than the copyright files.
  chroot "$tmp" apt-get clean
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/etc/apt/sources.list.d/*
  rm -f "$tmp/etc/apt/sources.list" "$tmp/etc/hostname"
  : >"$tmp/etc/resolv.conf"
  find "$tmp/var/log" -type f -delete
  rm -f "$tmp"/var/cache/debconf/*-old "$tmp"/var/lib/dpkg/*-old
  find "$tmp/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  rm -rf "$tmp"/usr/share/man/* "$tmp"/usr/share/info/* "$tmp"/usr/share/lintian/*
  find "$tmp/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$tmp"/tmp/* "$tmp"/var/tmp/*

  rm -rf "$BASE_DIR/rootfs"
  mv "$tmp" "$BASE_DIR/rootfs"
  # When it was made: the image's label, compared on later runs to import it again.
  date -u +%Y-%m-%dT%H:%M:%SZ >"$BASE_DIR/rootfs.made"
}

# localhost/chat-runtime-base:bookworm from the cached root filesystem, unless the image
# in the store was made from the same one.
base_ensure() {
  need buildah buildah
  require_root
  if [ "${CHAT_BASE_REFRESH:-0}" = 1 ]; then
    log "CHAT_BASE_REFRESH=1: making the runtime base again"
    rm -rf "$BASE_DIR/rootfs" "$BASE_DIR/rootfs.made"
  fi
  if [ ! -d "$BASE_DIR/rootfs" ] || [ ! -f "$BASE_DIR/rootfs.made" ]; then base_rootfs; fi
  local made have ctr mnt
  made="$(cat "$BASE_DIR/rootfs.made")"
  have="$(bh inspect --type image --format '{{index .OCIv1.Config.Labels "chat.runtime-base.made"}}' \
    "$BASE_IMAGE" 2>/dev/null || true)"
  [ "$have" = "$made" ] && return 0

  log "importing the runtime base as $BASE_IMAGE"
  bh rm chat-runtime-base-import >/dev/null 2>&1 || true
  ctr="$(bh from --name chat-runtime-base-import scratch)"
  mnt="$(bh mount "$ctr")"
  tar -C "$BASE_DIR/rootfs" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
  bh umount "$ctr" >/dev/null
  bh config --os linux --arch "$(dpkg --print-architecture)" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash \
    --created-by "debootstrap --variant=minbase --include=ca-certificates,libssl3 $SUITE, updated, user chat (10001)" \
    --label "chat.runtime-base.made=$made" \
    --label "org.opencontainers.image.title=chat-runtime-base" \
    --label "org.opencontainers.image.description=Debian $SUITE minbase with ca-certificates, libssl3 and the user chat (10001)" \
    --label "org.opencontainers.image.created=$made" \
    "$ctr"
  bh commit --quiet --format docker --rm "$ctr" "$BASE_IMAGE" >/dev/null
}

# ---------------------------------------------------------------------------------------
# What the prebuilt stages copy.

# The newest glibc symbol version a binary asks for (empty when objdump is missing).
glibc_needed() {
  command -v objdump >/dev/null || return 0
  objdump -T "$1" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1
}

stage_binaries() {
  local dest="$IMAGES_DIR/bin" marks="$IMAGES_DIR/bin-staged" name src out need_glibc
  local strip="${CHAT_STRIP_DEBUG:-1}"
  mkdir -p "$dest" "$marks"
  if [ "$strip" = 1 ]; then need objcopy binutils; fi
  for name in "$@"; do
    src="$BIN_DIR/$name"
    [ -x "$src" ] || die "no $src: build it first (cargo build --release --locked -p chat-gateway -p chat-projector -p chatctl) or point CHAT_BIN_DIR at a directory of built binaries"
    need_glibc="$(glibc_needed "$src")"
    if [ -n "$need_glibc" ] && [ "$(printf '%s\n2.36\n' "$need_glibc" | sort -V | tail -n 1)" != 2.36 ]; then
      die "$src needs glibc $need_glibc; Debian $SUITE has 2.36: build it on $SUITE (or older)"
    fi
    out="$dest/$name"
    # Copied again only when the source changed or the strip setting did. The marker
    # lives outside bin/, which the prebuilt stage copies whole.
    if [ -f "$out" ] && [ "$(cat "$marks/$name" 2>/dev/null)" = "$strip $(stat -c %Y-%s "$src")" ]; then
      continue
    fi
    log "staging $name from $BIN_DIR"
    if [ "$strip" = 1 ]; then
      objcopy --strip-debug "$src" "$out.tmp"
    else
      cp "$src" "$out.tmp"
    fi
    chmod 0755 "$out.tmp"
    mv "$out.tmp" "$out"
    echo "$strip $(stat -c %Y-%s "$src")" >"$marks/$name"
  done
}

stage_web() {
  local src="${CHAT_WEB_DIST:-}" dest="$IMAGES_DIR/web"
  if [ -z "$src" ]; then
    web_build
    src="$WEB_DIST"
  fi
  [ -f "$src/index.html" ] || die "no index.html in $src: not a built web client"
  rm -rf "$dest.tmp"
  cp -a "$src" "$dest.tmp"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
}

# ---------------------------------------------------------------------------------------
# Build, check, report, export.

image_tag() {
  if [ -n "${CHAT_IMAGE_TAG:-}" ]; then echo "$CHAT_IMAGE_TAG"; return; fi
  local tag
  tag="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD)"
  [ -z "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no)" ] || tag="$tag-dirty"
  echo "$tag"
}

build_target() {
  local target="$1" tag="$2" image version revision created
  image="$(image_of "$target")"
  version="$(awk -F'"' '/^\[workspace.package\]/ { p = 1 } p && /^version/ { print $2; exit }' "$REPO_ROOT/Cargo.toml")"
  revision="$(git -C "$REPO_ROOT" rev-parse HEAD)"
  # The commit's time rather than now: the same commit gives the same labels, so the
  # layer cache holds across runs.
  created="$(git -C "$REPO_ROOT" log -1 --format=%cI HEAD)"
  log "building localhost/$image:$tag (target $target)"
  (cd "$REPO_ROOT" && bh bud --quiet --force-rm --isolation chroot --format docker --layers --pull=never \
    --ignorefile "$IGNOREFILE" -f "$DOCKERFILE" \
    --build-arg BINARIES=prebuilt --build-arg WEB=prebuilt-web \
    --build-arg RUNTIME_BASE="$BASE_IMAGE" --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
    --target "$target" -t "localhost/$image:$tag" -t "localhost/$image:latest" .) >/dev/null
  # buildah 1.28 leaves a working container behind for each stage that is only a FROM
  # (binaries, web): on vfs each is a full copy of its image. Only this script makes
  # containers in this store, so all of them go.
  bh rm --all >/dev/null
}

# Runs the image's binary inside the image's own root filesystem (chroot), as the
# image's configured user: proof that the binary, its libraries and the user fit.
check_target() {
  local target="$1" tag="$2" image ctr uid missing
  image="$(image_of "$target")"
  bh rm "check-$image" >/dev/null 2>&1 || true
  ctr="$(bh from --pull=never --name "check-$image" "localhost/$image:$tag")"
  uid="$(bh run "$ctr" -- id -u)"
  [ "$uid" = "$IMAGE_UID" ] || { bh rm "$ctr" >/dev/null; die "$image runs as uid $uid, not $IMAGE_UID"; }
  missing="$(bh run "$ctr" -- ldd "/usr/local/bin/$image" | grep 'not found' || true)"
  [ -z "$missing" ] || { bh rm "$ctr" >/dev/null; die "$image lacks libraries: $missing"; }
  bh run "$ctr" -- "$image" --help >"$IMAGES_DIR/$image.help" 2>&1 ||
    { cat "$IMAGES_DIR/$image.help" >&2; bh rm "$ctr" >/dev/null; die "$image --help failed inside its image"; }
  if [ "$target" = gateway ]; then
    bh run "$ctr" -- test -r /usr/share/chat-gateway/web/index.html ||
      { bh rm "$ctr" >/dev/null; die "the web client is not in the gateway image"; }
  fi
  bh rm "$ctr" >/dev/null
  log "checked $image:$tag: runs as uid $uid, every library found, \`$image --help\` exits 0"
}

export_target() {
  local target="$1" tag="$2" image archive
  image="$(image_of "$target")"
  archive="$IMAGES_DIR/$image.oci.tar"
  rm -f "$archive"
  # An OCI image layout holding a Docker v2 schema 2 manifest by default: the OCI image
  # config has no field for HEALTHCHECK, so converting the manifest to OCI drops it.
  bh push --quiet --format "${CHAT_ARCHIVE_FORMAT:-v2s2}" "localhost/$image:$tag" \
    "oci-archive:$archive:$image:$tag" >/dev/null
  log "wrote $archive"
}

# Size, user, health check and layers of each image, from buildah and from the OCI
# archive (compressed layer sizes: what a registry stores and a host pulls).
report() {
  local tag="$1" target image archive
  shift
  echo
  bh images --format '{{.Name}}:{{.Tag}}  {{.Size}}' | grep -E ":($tag|$SUITE) " || true
  for target in "$@"; do
    image="$(image_of "$target")"
    archive="$IMAGES_DIR/$image.oci.tar"
    echo
    echo "== $image:$tag"
    # shellcheck disable=SC2016 # a Go template, not a shell expansion
    bh inspect --type image --format \
      'user: {{.Docker.Config.User}}  cmd: {{.Docker.Config.Cmd}}  ports: {{range $p, $_ := .Docker.Config.ExposedPorts}}{{$p}} {{end}}
healthcheck: {{if .Docker.Config.Healthcheck}}{{.Docker.Config.Healthcheck.Test}}{{else}}none{{end}}' \
      "localhost/$image:$tag"
    echo
    python3 - "$archive" <<'PY'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    blob = lambda d: t.extractfile("blobs/" + d.replace(":", "/")).read()
    index = json.loads(t.extractfile("index.json").read())
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
steps = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
total = sum(l["size"] for l in manifest["layers"])
print(f"layers (compressed), {total / 1e6:.1f} MB in all:")
for i, layer in enumerate(manifest["layers"]):
    step = steps[i] if i < len(steps) else ""
    step = " ".join(step.replace("/bin/sh -c #(nop) ", "").split())
    print(f"  {layer['size'] / 1e6:8.1f} MB  {layer['digest'][7:19]}  {step[:90] or '(runtime base)'}")
PY
  done
}

main() {
  if [ "${1:-}" = buildah ]; then
    shift
    bh "$@"
    return
  fi
  need buildah buildah
  require_root
  local targets=() arg t tag bins=()
  for arg in "${@:-all}"; do
    case "$arg" in
      all) targets+=(gateway projector chatctl) ;;
      gateway | projector | chatctl) targets+=("$arg") ;;
      base) base_ensure; log "runtime base: $BASE_IMAGE"; return ;;
      -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; return ;;
      *) die "unknown target '$arg': use gateway, projector, chatctl, all, base or buildah ARGS" ;;
    esac
  done
  # Each target once, in the order given.
  mapfile -t targets < <(printf '%s\n' "${targets[@]}" | awk '!seen[$0]++')
  for t in "${targets[@]}"; do bins+=("$(image_of "$t")"); done

  mkdir -p "$IMAGES_DIR"
  base_ensure
  stage_binaries "${bins[@]}"
  case " ${targets[*]} " in *" gateway "*) stage_web ;; esac
  tag="$(image_tag)"
  for t in "${targets[@]}"; do
    build_target "$t" "$tag"
    check_target "$t" "$tag"
    export_target "$t" "$tag"
  done
  # Images that lost their last tag to this build (earlier builds of the same tag).
  bh rmi --prune >/dev/null 2>&1 || true
  report "$tag" "${targets[@]}"
}

main "$@"
