#!/usr/bin/env bash
# install_and_run_examples.sh BUILD_DIR EXAMPLES_DIR CXX
#
# Installs BUILD_DIR into a temporary prefix; copies EXAMPLES_DIR out of the
# source tree and builds it with find_package(Aether) against that prefix;
# builds echo.cpp once more with pkg-config; runs echo and pipeline on udp
# loopback (one datagram each, its reply checked) and the multicast
# subscriber (joined, or refused with the backend's reason). Fails with
# the step that failed.
set -euo pipefail
build_dir=$1
examples_dir=$2
cxx=$3
work=$(mktemp -d /tmp/aether-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "== $*"; }
die() { echo "FAILED: $*" >&2; exit 1; }

step "cmake --install into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; die "install"; }
test -x "$prefix/bin/aether" || die "no $prefix/bin/aether"
"$prefix/bin/aether" --help >/dev/null || die "the installed aether does not run"
test -f "$prefix/lib/cmake/Aether/AetherConfig.cmake" || die "no CMake package"
test -f "$prefix/lib/pkgconfig/aether.pc" || die "no pkg-config file"

step "build examples/ outside the source tree with find_package(Aether)"
cp -r "$examples_dir" "$work/examples"
cmake -S "$work/examples" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; die "configure"; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "build"; }

step "build echo.cpp with pkg-config"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --exists aether || die "pkg-config cannot find aether"
# shellcheck disable=SC2046  # word splitting of the flags is intended
"$cxx" -O1 -o "$work/echo-pc" "$work/examples/echo.cpp" $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs aether) \
  || die "pkg-config build of echo.cpp"

# The CPUs this process may use (Cpus_allowed_list, e.g. "0-1" or "0,2").
cpus=()
IFS=, read -ra ranges <<<"$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"
for range in "${ranges[@]}"; do
  for ((cpu = ${range%-*}; cpu <= ${range#*-}; cpu++)); do cpus+=("$cpu"); done
done
((${#cpus[@]} >= 1)) || die "no allowed CPU"

# run_and_ask NAME COMMAND...: starts COMMAND (it prints "answering on IP:PORT"
# on stderr), sends one datagram there, checks the reply, waits for the end.
run_and_ask() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$!
  local address=""
  for _ in $(seq 100); do
    address=$(sed -n 's/.*answering on \([0-9.]*:[0-9]*\).*/\1/p' "$work/$name.err")
    [[ -n $address ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $address ]] || { cat "$work/$name.err"; die "$name did not start"; }
  exec 3<>"/dev/udp/${address%:*}/${address#*:}"
  printf 'aether-%s' "$name" >&3
  local reply
  reply=$(timeout 5 head -c $((7 + ${#name})) <&3) || true
  exec 3>&-
  wait "$pid" || { cat "$work/$name.err"; die "$name exited with $?"; }
  [[ $reply == "aether-$name" ]] || die "$name: reply '$reply', expected 'aether-$name'"
  cat "$work/$name.out"
}

step "run echo (find_package build) and echo (pkg-config build)"
run_and_ask echo "$work/build/echo" udp:127.0.0.1:0 "${cpus[0]}" 2
run_and_ask echo-pc "$work/echo-pc" udp:127.0.0.1:0 "${cpus[0]}" 2
if ((${#cpus[@]} >= 2)); then
  step "run pipeline on CPUs ${cpus[0]} and ${cpus[1]}"
  run_and_ask pipeline "$work/build/pipeline" udp:127.0.0.1:0 "${cpus[0]}" "${cpus[1]}" 2
else
  step "pipeline skipped: it needs two allowed CPUs"
fi

step "run multicast_subscriber for 2 s"
status=0
timeout -s INT 2 "$work/build/multicast_subscriber" udp:0.0.0.0:0 "${cpus[0]}" 239.255.77.1 \
  >"$work/multicast.out" 2>"$work/multicast.err" || status=$?
case $status in
  0 | 124) echo "joined and ran" ;;  # 124: timeout's SIGINT ended a run that had joined
  3) grep -q "cannot join 239.255.77.1: .*" "$work/multicast.err" || die "multicast: exit 3 without a reason"
     echo "the backend refused, clearly: $(grep 'cannot join' "$work/multicast.err")" ;;
  *) cat "$work/multicast.err"; die "multicast_subscriber exited with $status" ;;
esac
echo "PASSED"
