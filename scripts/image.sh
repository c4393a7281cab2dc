#!/usr/bin/env bash
# Builds the runtime image of each server from its prebuilt static binary with buildah
# (no registry, no daemon: vfs storage, chroot isolation, --pull=never), then checks it:
# the user and entrypoint in the image config, the exact file list (no shell), that the
# binary runs inside the image (`<server> --version` and `<server> tools`), and its size.
#
#   scripts/image.sh [--no-build] [SERVER ...]     (default: every deployable server in servers.toml)
#
# Storage lives under target/image/ (not /var/lib/containers), so the run leaves nothing
# behind outside the repository. Sizes are printed and written to target/image/sizes.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-gnu
build=1
if [[ "${1:-}" == "--no-build" ]]; then build=0; shift; fi
servers=("$@")
if [[ ${#servers[@]} -eq 0 ]]; then
  listed=$(python3 scripts/servers.py list --deployable) || { echo "image.sh: cannot read servers.toml" >&2; exit 1; }
  mapfile -t servers <<<"$listed"
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
VERSION=${VERSION:-0.1.0}

command -v buildah >/dev/null || { echo "image.sh: buildah is not installed (make deps installs it)" >&2; exit 1; }
WORK=$PWD/target/image
mkdir -p "$WORK"
BUILDAH=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)

fail() { echo "image.sh: $*" >&2; exit 1; }

if [[ $build == 1 ]]; then
  args=()
  for s in "${servers[@]}"; do args+=(-p "$s"); done
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$TARGET" "${args[@]}"
fi

ca=/etc/ssl/certs/ca-certificates.crt
[[ -s $ca ]] || fail "no CA bundle at $ca (install ca-certificates)"

echo "| Server | Binary | Image |" > "$WORK/sizes.md"
echo "|---|---|---|" >> "$WORK/sizes.md"
for s in "${servers[@]}"; do
  bin="target/$TARGET/release/$s"
  [[ -x $bin ]] || fail "$bin not built (run without --no-build)"
  # A static binary: no program interpreter, so it runs in an image with no libc.
  if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then fail "$bin is dynamically linked"; fi

  ctx="$WORK/ctx-$s"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$bin" "$ctx/$s"
  cp "$ca" "$ctx/ca-certificates.crt"
  printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' > "$ctx/passwd"
  printf 'nonroot:x:65532:\n' > "$ctx/group"

  tag="localhost/secops-mcp/$s:$VERSION"
  "${BUILDAH[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
  "${BUILDAH[@]}" bud --quiet --isolation chroot --pull=never --layers=false \
    -f deploy/docker/Dockerfile.prebuilt --build-arg SERVER="$s" --build-arg VERSION="$VERSION" \
    -t "$tag" "$ctx" >/dev/null

  user=$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
  # buildah 1.28's templates have no `json`; Go prints a []string as [a b c].
  entry=$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$tag")
  cmd=$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.Cmd}}' "$tag")
  [[ $user == "65532:65532" ]] || fail "$tag: user is '$user', not 65532:65532"
  [[ $entry == '[/usr/local/bin/server]' ]] || fail "$tag: entrypoint is $entry"
  [[ $cmd == '[serve --transport http]' ]] || fail "$tag: cmd is $cmd"

  ctr=$("${BUILDAH[@]}" from --pull=never --quiet "$tag")
  cleanup_ctr() { "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true; }
  trap cleanup_ctr EXIT
  root=$("${BUILDAH[@]}" mount "$ctr")
  files=$(cd "$root" && find . -type f -o -type l | sort | tr '\n' ' ')
  expected="./etc/group ./etc/passwd ./etc/ssl/certs/ca-certificates.crt ./usr/local/bin/server "
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  [[ $files == "$expected" ]] || fail "$tag: unexpected files: $files"

  # The binary runs inside the image, as the image's user (65532), with no shell.
  version=$("${BUILDAH[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/server --version)
  [[ $version == "$s "* ]] || fail "$tag: --version printed '$version'"
  tools=$("${BUILDAH[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/server tools)
  ntools=$(grep -c . <<<"$tools" || true)
  [[ $ntools -ge 3 ]] || fail "$tag: 'tools' printed $ntools lines: $tools"
  if "${BUILDAH[@]}" run --isolation chroot "$ctr" -- /bin/sh -c true >/dev/null 2>&1; then
    fail "$tag: /bin/sh ran inside the image"
  fi
  cleanup_ctr
  trap - EXIT

  bin_bytes=$(stat -c %s "$bin")
  img=$("${BUILDAH[@]}" images --format '{{.Size}}' "$tag" | head -1)
  printf '| %s | %.1f MB | %s |\n' "$s" "$(awk "BEGIN{print $bin_bytes/1000000}")" "$img" >> "$WORK/sizes.md"
  echo "image $tag: user $user, entrypoint $entry, $ntools tool lines, $img (binary $bin_bytes bytes), no shell"
done
cat "$WORK/sizes.md"
