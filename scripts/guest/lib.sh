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

# Prepares apt state of the harness's own for Debian SUITE under
# <cache>/apt/<suite> and sets guest_apt_dir and guest_apt_options (the
# apt-get/apt-cache options that use it). The host's apt configuration is
# never read or changed; nothing is installed. Call guest_apt_update next.
# Environment: AETHER_GUEST_MIRROR, AETHER_GUEST_SECURITY_MIRROR.
guest_apt_setup() {
  local suite=$1 cache
  local mirror=${AETHER_GUEST_MIRROR:-http://deb.debian.org/debian}
  local security_mirror=${AETHER_GUEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || guest_die "$keyring missing: install debian-archive-keyring"
  guest_require_tools apt-get apt-cache
  cache=$(guest_cache_dir)
  guest_apt_dir=$cache/apt/$suite
  mkdir -p "$guest_apt_dir"/{sources.list.d,preferences.d,lists/partial,archives/partial,debs}
  : >"$guest_apt_dir/status"
  {
    # Stable suites get their kernel security updates from the security archive.
    case $suite in
      bookworm|trixie|bullseye)
        echo "deb [signed-by=$keyring] $mirror $suite main"
        echo "deb [signed-by=$keyring] $mirror $suite-updates main"
        echo "deb [signed-by=$keyring] $security_mirror $suite-security main" ;;
      *)
        echo "deb [signed-by=$keyring] $mirror $suite main" ;;
    esac
  } >"$guest_apt_dir/sources.list"
  guest_apt_options=(
    -o "Dir::Etc::SourceList=$guest_apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$guest_apt_dir/sources.list.d"
    -o "Dir::Etc::Preferences=$guest_apt_dir/preferences"
    -o "Dir::Etc::PreferencesParts=$guest_apt_dir/preferences.d"
    -o "Dir::State::Lists=$guest_apt_dir/lists"
    -o "Dir::State::status=$guest_apt_dir/status"
    -o "Dir::Cache=$guest_apt_dir"
    -o "Dir::Cache::archives=$guest_apt_dir/archives"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Architecture=amd64"
    -o "Acquire::Languages=none"
    # The _apt sandbox user cannot write into the root-owned cache; the
    # downloads are still verified against the signed Release files.
    -o "APT::Sandbox::User=$(id -un)"
  )
}

# Refreshes the package lists of the suite prepared by guest_apt_setup.
guest_apt_update() {
  guest_log "updating package lists for $1 (own apt state in $guest_apt_dir)"
  apt-get "${guest_apt_options[@]}" -qq update >&2 || guest_die "apt-get update for $1 failed"
}

# Prints the packages PACKAGE depends on (no recommends, suggests, ...), one
# a line, from the suite prepared by guest_apt_setup.
guest_apt_depends() {
  apt-cache "${guest_apt_options[@]}" depends --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "$1" | sed -n 's/^ *Depends: //p'
}
