# conveyor_library(NAME SOURCES... DEPS ...): libs/<name> as target conveyor::<name>
# with public headers in libs/<name>/include.
function(conveyor_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(conveyor_${name} STATIC ${ARG_SOURCES})
  add_library(conveyor::${name} ALIAS conveyor_${name})
  target_include_directories(conveyor_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(conveyor_${name} PUBLIC ${ARG_DEPS})
endfunction()

# conveyor_test(NAME LABEL SOURCES... DEPS ...): one gtest binary registered with
# ctest under LABEL (unit, integration, e2e). Tests get CONVEYOR_SOURCE_DIR and
# CONVEYOR_SHARED_DIR in their environment.
function(conveyor_test name label)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${label} TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "CONVEYOR_SOURCE_DIR=${CONVEYOR_SOURCE_DIR};CONVEYOR_SHARED_DIR=${CONVEYOR_SHARED_DIR};CONVEYOR_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endfunction()
