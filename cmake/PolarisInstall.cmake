# What `cmake --install` lays out (docs/deploy.md), relative to the prefix:
#
#   bin/polaris                      the one binary (links no engine)
#   lib/polaris/                     the engine modules, and the engine libraries they need
#                                    (ONNX Runtime, libtorch's CPU half), all found by $ORIGIN
#   share/polaris/dashboard/         the built web dashboard (`make dashboard`)
#   share/polaris/models/default/    the embedded default model set (scripts/make-models)
#   share/polaris/catalog.json       `polaris pull`'s shipped catalog
#   share/polaris/*.py               the Python tools of `quantize`, `prune`, `pull` (torchvision)
#   share/polaris/polaris.env        the service's settings, copied to /etc/default/polaris
#   lib/systemd/system/polaris.service, lib/sysusers.d/polaris.conf
#
# The binary finds all of it from its own location (core/executable_dir.h),
# so the prefix can be anywhere; nothing points back into the build tree or
# ~/.cache/polaris (tests/python/test_install.py checks every ELF file).

set(POLARIS_INSTALL_MODULE_DIR lib/polaris)
# libtorch's CUDA half is 0.5 GiB and only of use with an NVIDIA driver:
# bundled on request (the registry preloads it from lib/polaris when present).
option(POLARIS_INSTALL_TORCH_CUDA "Bundle libtorch_cuda.so (NVIDIA GPUs) into the install" OFF)

install(TARGETS polaris RUNTIME DESTINATION bin)

# The engine modules find their engines beside themselves once installed.
set(polaris_engine_modules "")
foreach(engine onnxruntime torch opencv)
  if(TARGET polaris_backend_${engine})
    list(APPEND polaris_engine_modules polaris_backend_${engine})
    set_target_properties(polaris_backend_${engine} PROPERTIES INSTALL_RPATH "\$ORIGIN")
  endif()
endforeach()

# The engines' own libraries are bundled: what the modules link, resolved
# in the engines' folders (found by CMake from the modules' build RPATHs and
# these directories), but nothing the system provides (Debian's packages:
# the .deb's Depends and deploy/container/runtime-packages.txt list them).
set(polaris_engine_dirs "")
if(POLARIS_WITH_ONNXRUNTIME)
  list(APPEND polaris_engine_dirs "${POLARIS_ORT_LIBRARY_DIR}")
endif()
if(POLARIS_WITH_TORCH)
  list(APPEND polaris_engine_dirs "${POLARIS_TORCH_ROOT}/lib" "${POLARIS_TORCH_ROOT}/cuda")
endif()
if(polaris_engine_modules)
install(TARGETS ${polaris_engine_modules}
  RUNTIME_DEPENDENCIES
    DIRECTORIES ${polaris_engine_dirs}
    PRE_EXCLUDE_REGEXES "^ld-linux" "^linux-vdso"
    POST_EXCLUDE_REGEXES "^/lib/" "^/lib64/" "^/usr/lib/" "^/usr/local/lib/"
  LIBRARY DESTINATION ${POLARIS_INSTALL_MODULE_DIR})
endif()
if(POLARIS_WITH_ONNXRUNTIME)
  # Providers ORT dlopens itself (the GPU flavour's libonnxruntime_providers_*.so)
  # are not link dependencies, so the whole folder's libraries go too.
  install(DIRECTORY "${POLARIS_ORT_LIBRARY_DIR}/" DESTINATION ${POLARIS_INSTALL_MODULE_DIR}
    FILES_MATCHING PATTERN "libonnxruntime*.so*")
endif()
if(POLARIS_WITH_TORCH AND POLARIS_INSTALL_TORCH_CUDA)
  install(FILES "${POLARIS_TORCH_ROOT}/lib/libtorch_cuda.so" "${POLARIS_TORCH_ROOT}/lib/libc10_cuda.so"
    DESTINATION ${POLARIS_INSTALL_MODULE_DIR})
endif()

# --strip (cmake --install, CPack's CPACK_STRIP_FILES) strips what CMake
# built; the bundled engine libraries are stripped here too (libtorch ships
# its symbol table: 448 -> 357 MB).
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    file(GLOB polaris_bundled \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${POLARIS_INSTALL_MODULE_DIR}/*.so*\")
    foreach(lib IN LISTS polaris_bundled)
      if(NOT IS_SYMLINK \"\${lib}\")
        execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-unneeded \"\${lib}\" COMMAND_ERROR_IS_FATAL ANY)
      endif()
    endforeach()
  endif()
")

# Data the binary looks up in ../share/polaris. OPTIONAL: a build without
# `make dashboard` or the models still installs (and says what is missing at start).
install(DIRECTORY "${CMAKE_BINARY_DIR}/share/polaris/dashboard" DESTINATION share/polaris OPTIONAL
  PATTERN ".*" EXCLUDE)
install(DIRECTORY "${POLARIS_MODELS_DIR}/default" DESTINATION share/polaris/models OPTIONAL)
install(FILES catalog/models.json DESTINATION share/polaris RENAME catalog.json)
install(FILES python/src/polaris/compress.py python/src/polaris/torchvision_export.py DESTINATION share/polaris)
install(FILES README.md docs/deploy.md docs/server.md docs/cli.md DESTINATION share/doc/polaris OPTIONAL)

# The systemd service. Its paths depend on the prefix given at install time
# (`--prefix`, or /usr for the .deb), so the unit is written then.
install(FILES deploy/systemd/polaris.env deploy/systemd/polaris.sysusers DESTINATION share/polaris)
install(FILES deploy/systemd/polaris.sysusers DESTINATION lib/sysusers.d RENAME polaris.conf)
install(CODE "
  set(POLARIS_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/deploy/systemd/polaris.service.in\"
                 \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/polaris.service\" @ONLY)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/polaris.service\")
")

include(PolarisPackaging)
