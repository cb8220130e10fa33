# Install rules and the CMake package of glassy (included last by the root CMakeLists.txt).
#
#   cmake --install build/<preset> --prefix PREFIX   installs
#     bin/                                  pspin_quench, net_quench, aging_analysis
#     lib/                                  libglassy_{dynamics,physics,analysis,nets}.a
#     include/glassy/{dynamics,physics,analysis,nets}/*.hpp
#                                           public headers, included as "physics/pspin.hpp"
#     lib/cmake/glassy/                     glassyConfig.cmake, glassyConfigVersion.cmake and
#                                           the exported targets
#     share/doc/glassy/                     README.md and docs/
#   cpack -G DEB (in the build folder)      the same as a Debian package (CPack section below)
#
# A consumer writes find_package(glassy) and links glassy::dynamics, glassy::physics,
# glassy::analysis or glassy::nets (docs/install.md; tests/consumer/ is an example).
include(CMakePackageConfigHelpers)

set(GLASSY_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/glassy
    CACHE STRING "Where glassyConfig.cmake is installed, relative to the prefix")

# Exported names: glassy::dynamics, ... (the in-tree ALIAS names). glassy_warnings is exported
# only because the static libraries name it in their link interface ($<LINK_ONLY:...>): it
# carries no usage requirement to consumers.
set_target_properties(glassy_warnings PROPERTIES EXPORT_NAME warnings)
set(glassy_core_targets glassy_warnings glassy_dynamics glassy_physics glassy_analysis)
foreach(target IN LISTS glassy_core_targets)
  if(NOT target STREQUAL glassy_warnings)
    string(REPLACE "glassy_" "" name ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  endif()
endforeach()

install(TARGETS ${glassy_core_targets} EXPORT glassy-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(EXPORT glassy-targets NAMESPACE glassy:: FILE glassy-targets.cmake
  DESTINATION ${GLASSY_INSTALL_CMAKEDIR} COMPONENT development)

set(glassy_modules dynamics physics analysis)
set(glassy_tools pspin_quench aging_analysis)
if(GLASSY_WITH_TORCH)
  # nets has its own export file, so that only find_package(glassy COMPONENTS nets) needs Torch.
  set_target_properties(glassy_nets PROPERTIES EXPORT_NAME nets)
  install(TARGETS glassy_nets EXPORT glassy-nets-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
  install(EXPORT glassy-nets-targets NAMESPACE glassy:: FILE glassy-nets-targets.cmake
    DESTINATION ${GLASSY_INSTALL_CMAKEDIR} COMPONENT development)
  list(APPEND glassy_modules nets)
  list(APPEND glassy_tools net_quench)
endif()

install(TARGETS ${glassy_tools} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
foreach(module IN LISTS glassy_modules)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/glassy/${module}
    COMPONENT development FILES_MATCHING PATTERN "*.hpp" PATTERN "hdf5_io.hpp" EXCLUDE) # internal to dynamics/*.cpp
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tools)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tools)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/glassyConfig.cmake.in
  ${PROJECT_BINARY_DIR}/glassyConfig.cmake INSTALL_DESTINATION ${GLASSY_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/glassyConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/glassyConfig.cmake ${PROJECT_BINARY_DIR}/glassyConfigVersion.cmake
  DESTINATION ${GLASSY_INSTALL_CMAKEDIR} COMPONENT development)

# --- Debian package (cpack -G DEB) ---
# One package, glassy, with the tools, the static libraries, the headers and the CMake package.
# Depends: the Debian runtime libraries the tools link, found by dpkg-shlibdeps, and the -dev
# packages whose headers and CMake packages glassyConfig.cmake looks for.
set(CPACK_PACKAGE_NAME glassy)
set(CPACK_PACKAGE_VENDOR "glassy")
set(CPACK_PACKAGE_CONTACT "glassy maintainers <glassy@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY glassy)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(glassy_dev_depends "libeigen3-dev, libhdf5-dev, nlohmann-json3-dev, libboost-dev")
if(GLASSY_WITH_TORCH)
  string(APPEND glassy_dev_depends ", libtorch-dev, zlib1g-dev")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${glassy_dev_depends}")
include(CPack)
