# shellcheck shell=bash
# Shared helpers of the guest harness scripts (scripts/guest/*). Sourced, not run.
#
# Everything the harness downloads or builds lives in one cache directory
# outside the checkout, so that `git clean` keeps it and several checkouts or
# CI runs on the same machine share it.

# shellcheck disable=SC2034 # used by the scripts that source this file
guest_scripts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

guest_log() { printf 'guest: %s\n' "$*" >&2; }
guest_die() { printf 'guest: error: %s\n' "$*" >&2; exit 1; }

# Prints the cache directory, creating it. ${AETHER_GUEST_CACHE} wins; the
# default /var/cache/aether-guest needs root, so a user without write access
# there falls back to ~/.cache/aether-guest rather than failing.
guest_cache_dir() {
  local dir=${AETHER_GUEST_CACHE:-/var/cache/aether-guest}
  if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then
    printf '%s\n' "$dir"
    return
  fi
  if [ -n "${AETHER_GUEST_CACHE:-}" ]; then
    guest_die "cache directory $dir (AETHER_GUEST_CACHE) cannot be created or written"
  fi
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/aether-guest
  mkdir -p "$dir" || guest_die "cannot create cache directory $dir"
  printf '%s\n' "$dir"
}

# Holds an exclusive lock on FILE until the calling shell exits, so that two
# test processes fetching the same kernel do not download it twice.
guest_lock() {
  local file=$1
  exec {guest_lock_fd}>"$file" || guest_die "cannot open lock file $file"
  flock "$guest_lock_fd" || guest_die "cannot lock $file"
}

guest_require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      guest_die "'$tool' not found: run scripts/install-deps (it installs the guest harness packages)"
  done
}

# Copies HOST_PATH into staging directory STAGE at GUEST_PATH.
# Spec is "HOST_PATH:GUEST_PATH", split at the first colon.
guest_stage_add() {
  local stage=$1 spec=$2
  local host_path=${spec%%:*} guest_path=${spec#*:}
  [ "$host_path" != "$spec" ] || guest_die "--add '$spec': expected HOST_PATH:GUEST_PATH"
  case $guest_path in /*) ;; *) guest_die "--add '$spec': guest path must be absolute" ;; esac
  [ -e "$host_path" ] || guest_die "--add '$spec': $host_path does not exist"
  mkdir -p "$stage$(dirname "$guest_path")"
  cp -a --dereference "$host_path" "$stage$guest_path" || guest_die "cannot copy $host_path"
}

# Writes the tree under STAGE as an uncompressed cpio "newc" archive to OUT,
# every entry owned by root (the format the kernel unpacks as initramfs,
# Documentation/driver-api/early-userspace/buffer-format.rst).
guest_write_cpio() {
  local stage=$1 out=$2
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0) >"$out" || guest_die "cpio failed writing $out"
}
