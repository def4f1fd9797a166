# `cmake --install`: headers, the runtime's libraries, the `aether` binary,
# a CMake package (find_package(Aether): imported targets Aether::runtime,
# Aether::core, ...) and a pkg-config file (aether.pc). What is installed is
# the runtime and everything it links; the modules only the CLI uses
# (measure, jitter, feed, attest, fluid) stay in the build tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Every library in the runtime's link closure, in link order (dependants
# first): the pkg-config file lists them in this order.
set(aether_installed_modules runtime ports)
get_property(aether_installed_backends GLOBAL PROPERTY AETHER_BACKENDS)
foreach(backend IN LISTS aether_installed_backends)
  string(REPLACE "aether::" "" backend "${backend}")
  list(APPEND aether_installed_modules ${backend})
endforeach()
list(APPEND aether_installed_modules drivers driver_virtio_net driver_e1000e vfio telemetry dataplane partition net ring stats mem core)

set(aether_installed_targets "")
set(aether_pc_libs "")
foreach(module IN LISTS aether_installed_modules)
  set_target_properties(aether_${module} PROPERTIES EXPORT_NAME ${module})
  list(APPEND aether_installed_targets aether_${module})
  get_target_property(type aether_${module} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    string(APPEND aether_pc_libs " -laether_${module}")
  endif()
endforeach()

install(TARGETS ${aether_installed_targets}
        EXPORT AetherTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir core stats mem ring net dataplane vfio partition drivers backends telemetry runtime)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/aether/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/aether)
endforeach()
if(TARGET aether_cli)
  install(TARGETS aether_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(aether_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Aether)
install(EXPORT AetherTargets NAMESPACE Aether:: DESTINATION ${aether_cmake_dir})
set(AETHER_HAVE_AFXDP OFF)
if(TARGET aether_backend_afxdp)
  set(AETHER_HAVE_AFXDP ON)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/AetherConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/AetherConfig.cmake INSTALL_DESTINATION ${aether_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/AetherConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/AetherConfig.cmake ${PROJECT_BINARY_DIR}/AetherConfigVersion.cmake
        DESTINATION ${aether_cmake_dir})

# pkg-config: the static libraries in link order, and what they need.
set(aether_pc_requires "fmt nlohmann_json tomlplusplus")
if(AETHER_HAVE_AFXDP)
  string(APPEND aether_pc_requires " libxdp libbpf")
endif()
file(RELATIVE_PATH aether_pc_prefix_from_pcfiledir /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/aether.pc.in ${PROJECT_BINARY_DIR}/aether.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/aether.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
