# Installable package: `find_package(Lowbit)` gives Lowbit::LowbitDialect,
# Lowbit::LowbitFormats, ... for compilers that embed lowbit.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The runtime alone (Lowbit::LowbitRuntime) when the compiler is switched off.
set(LOWBIT_RUNTIME_LIBS LowbitProtobufLite LowbitArtifact LowbitRuntime LowbitCudaDriver
    LowbitGpuRuntime)
set(LOWBIT_EXPORTED_LIBS ${LOWBIT_RUNTIME_LIBS})
if(LOWBIT_BUILD_COMPILER)
  list(APPEND LOWBIT_EXPORTED_LIBS LowbitSupport LowbitFormats LowbitKernels LowbitDialect
       LowbitQuant LowbitPasses LowbitModelSource LowbitImport LowbitExport LowbitInterpreter
       LowbitCalibrationStatistics LowbitCalibration LowbitGpuCodegen LowbitCodegen)
endif()
foreach(lib ${LOWBIT_RUNTIME_LIBS})
  target_include_directories(${lib} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
foreach(lib ${LOWBIT_EXPORTED_LIBS})
  if(lib IN_LIST LOWBIT_RUNTIME_LIBS)
    continue()
  endif()
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
if(LOWBIT_BUILD_COMPILER)
  install(TARGETS lowbit-opt lowbit-translate lowbit-compile lowbit-run
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(TARGETS LowbitDialectPlugin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/lowbit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
  install(DIRECTORY ${LOWBIT_BINARY_DIR}/include/lowbit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.inc")
else()
  install(DIRECTORY include/lowbit/Runtime DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lowbit
    FILES_MATCHING PATTERN "*.h")
endif()
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
