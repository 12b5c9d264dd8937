# Installable package: `find_package(Lowbit)` gives Lowbit::LowbitDialect,
# Lowbit::LowbitFormats, ... for compilers that embed lowbit.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LOWBIT_EXPORTED_LIBS LowbitSupport LowbitFormats LowbitKernels LowbitDialect LowbitQuant LowbitPasses
    LowbitImport LowbitExport LowbitExecutor LowbitCalibration)
foreach(lib ${LOWBIT_EXPORTED_LIBS})
  target_include_directories(${lib} PUBLIC
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # The build adds MLIR/LLVM headers globally; consumers get them from here.
  foreach(dir ${MLIR_INCLUDE_DIRS} ${LLVM_INCLUDE_DIRS})
    target_include_directories(${lib} SYSTEM PUBLIC $<INSTALL_INTERFACE:${dir}>)
  endforeach()
endforeach()

install(TARGETS ${LOWBIT_EXPORTED_LIBS} EXPORT LowbitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS lowbit-opt lowbit-translate lowbit-run
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS LowbitDialectPlugin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/lowbit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${LOWBIT_BINARY_DIR}/include/lowbit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.inc")
install(EXPORT LowbitTargets NAMESPACE Lowbit::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Lowbit)

configure_package_config_file(cmake/LowbitConfig.cmake.in
  ${LOWBIT_BINARY_DIR}/LowbitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Lowbit)
write_basic_package_version_file(${LOWBIT_BINARY_DIR}/LowbitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${LOWBIT_BINARY_DIR}/LowbitConfig.cmake
  ${LOWBIT_BINARY_DIR}/LowbitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Lowbit)
