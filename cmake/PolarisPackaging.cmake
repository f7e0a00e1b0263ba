# scripts/build-deb (cpack -B <build>/deb): a .deb of the install layout with prefix /usr.
# Depends is worked out by dpkg-shlibdeps from the binaries (Debian's
# libraries); the engine libraries are bundled in /usr/lib/polaris.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME polaris)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Polaris maintainers <polaris@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Multi-model inference server (ONNX, TorchScript) for budget GPUs and CPUs")
set(CPACK_PACKAGE_DESCRIPTION "Serves ONNX models with ONNX Runtime and TorchScript models with libtorch over
 the KServe v2 protocol (HTTP and gRPC, Triton's extensions), under a memory
 budget, with dynamic batching, Prometheus metrics and a web dashboard.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps must find the bundled engine libraries inside the package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
    "${CMAKE_BINARY_DIR}/deb/_CPack_Packages/Linux/DEB/polaris-${PROJECT_VERSION}-Linux/usr/lib/polaris")
# systemd-sysusers creates the service's user; python3 runs the tools of quantize/prune.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/deploy/debian/postinst;${CMAKE_SOURCE_DIR}/deploy/debian/prerm;${CMAKE_SOURCE_DIR}/deploy/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# zstd: the bundled libtorch makes the package ~400 MB before compression; xz
# takes minutes for it, zstd seconds. dpkg reads zstd since Debian 12.
set(CPACK_DEBIAN_COMPRESSION_TYPE zstd)
set(CPACK_THREADS 0)
set(CPACK_STRIP_FILES ON)
include(CPack)
