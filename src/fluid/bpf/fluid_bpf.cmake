# The fluid module's BPF side (docs/fluid.md): vmlinux.h from the build
# host's BTF -> telemetry.bpf.o (clang -target bpf) -> fluid_telemetry.skel.h
# (bpftool gen skeleton), as libbpf-bootstrap's FindBpfObject.cmake does.
#
# vmlinux.h comes from the *build* machine's running kernel. That is fine for
# CO-RE: the programs are tp_btf and use only task_struct fields (pid, tgid)
# that libbpf relocates against the target kernel's BTF at load time.
# Sets AETHER_FLUID_BPF_OK and, when ON, the target aether_fluid_bpf
# (an INTERFACE library with the skeleton's include directory).
set(AETHER_FLUID_BPF_OK OFF)
set(fluid_btf /sys/kernel/btf/vmlinux)
find_program(AETHER_BPFTOOL bpftool HINTS /usr/sbin /sbin)
find_program(AETHER_BPF_CLANG clang)
pkg_check_modules(FLUID_LIBBPF IMPORTED_TARGET libbpf)
if(NOT EXISTS ${fluid_btf})
  message(STATUS "fluid: SKIPPED: ${fluid_btf} is absent on this build machine (kernel without CONFIG_DEBUG_INFO_BTF); "
                 "`aether fluid` will say so and the fluid tests skip")
  return()
endif()
if(NOT AETHER_BPFTOOL OR NOT AETHER_BPF_CLANG OR NOT FLUID_LIBBPF_FOUND)
  message(STATUS "fluid: SKIPPED: needs bpftool, clang and libbpf-dev (scripts/install-deps installs them)")
  return()
endif()

set(fluid_bpf_dir ${CMAKE_CURRENT_SOURCE_DIR}/fluid/bpf)
set(fluid_out ${CMAKE_CURRENT_BINARY_DIR}/fluid_bpf)
file(MAKE_DIRECTORY ${fluid_out})
add_custom_command(
  OUTPUT ${fluid_out}/vmlinux.h
  COMMAND ${AETHER_BPFTOOL} btf dump file ${fluid_btf} format c > ${fluid_out}/vmlinux.h
  COMMENT "fluid: vmlinux.h from ${fluid_btf}"
  VERBATIM)
add_custom_command(
  OUTPUT ${fluid_out}/telemetry.bpf.o
  COMMAND ${AETHER_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I${fluid_out} -I${fluid_bpf_dir}
          -c ${fluid_bpf_dir}/telemetry.bpf.c -o ${fluid_out}/telemetry.bpf.o
  DEPENDS ${fluid_bpf_dir}/telemetry.bpf.c ${fluid_bpf_dir}/telemetry_counters.h ${fluid_out}/vmlinux.h
  COMMENT "fluid: clang -target bpf telemetry.bpf.c"
  VERBATIM)
add_custom_command(
  OUTPUT ${fluid_out}/fluid_telemetry.skel.h
  COMMAND ${AETHER_BPFTOOL} gen skeleton ${fluid_out}/telemetry.bpf.o name fluid_telemetry > ${fluid_out}/fluid_telemetry.skel.h
  DEPENDS ${fluid_out}/telemetry.bpf.o
  COMMENT "fluid: bpftool gen skeleton"
  VERBATIM)
add_custom_target(aether_fluid_skeleton DEPENDS ${fluid_out}/fluid_telemetry.skel.h)
add_library(aether_fluid_bpf INTERFACE)
add_dependencies(aether_fluid_bpf aether_fluid_skeleton)
target_include_directories(aether_fluid_bpf INTERFACE ${fluid_out} ${fluid_bpf_dir})
target_link_libraries(aether_fluid_bpf INTERFACE PkgConfig::FLUID_LIBBPF)
set(AETHER_FLUID_BPF_OK ON)
