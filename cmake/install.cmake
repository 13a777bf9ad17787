# What `cmake --install` puts under a prefix, and what `cpack -G DEB` packs: libcairn (with its
# SONAME), the public headers, cairn and cairn-worker, the CMake package and cairn.pc.
include(CMakePackageConfigHelpers)

# The SONAME carries major.minor while Cairn is 0.x; the binaries find libcairn beside them.
set_target_properties(cairn_runtime PROPERTIES VERSION "${PROJECT_VERSION}"
  SOVERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}" EXPORT_NAME cairn)
set_target_properties(cairn_cli cairn_worker PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

set(CAIRN_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/Cairn")
install(TARGETS cairn_runtime EXPORT CairnTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" NAMELINK_COMPONENT Unspecified)
install(TARGETS cairn_cli cairn_worker RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/runtime/include/cairn" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT CairnTargets NAMESPACE Cairn:: DESTINATION "${CAIRN_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/CairnConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/CairnConfig.cmake" INSTALL_DESTINATION "${CAIRN_CMAKE_DIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a minor release may change the ABI (the SONAME carries major.minor), so only the same minor matches.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/CairnConfigVersion.cmake" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/CairnConfig.cmake" "${PROJECT_BINARY_DIR}/CairnConfigVersion.cmake"
  DESTINATION "${CAIRN_CMAKE_DIR}")

# cairn.pc finds its prefix from where it lies, so an extracted .deb or a moved prefix works.
file(RELATIVE_PATH CAIRN_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file("${PROJECT_SOURCE_DIR}/cmake/cairn.pc.in" "${PROJECT_BINARY_DIR}/cairn.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/cairn.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

set(CPACK_PACKAGE_NAME cairn)
set(CPACK_PACKAGE_VENDOR "Cairn")
set(CPACK_PACKAGE_CONTACT "Cairn developers <cairn@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Event-sourcing runtime for C++ services on CAF and PostgreSQL")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
# dpkg-shlibdeps finds the libraries the binaries link (CAF, libpqxx, libuuid, ...); the headers
# need these to compile against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpqxx-dev (>= 6.4), nlohmann-json3-dev (>= 3.11), pkg-config")
include(CPack)
