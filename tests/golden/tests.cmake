# One CTest test per golden file under tests/testdata/ (see golden.py for the
# file format). New files are picked up on the next build (CONFIGURE_DEPENDS).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
file(GLOB_RECURSE kiln_golden_files CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/tests/testdata/*.kiln)
foreach(golden ${kiln_golden_files})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/testdata ${golden})
  add_test(NAME golden/${rel}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/golden/golden.py
                   $<TARGET_FILE:kiln> ${golden})
  set_tests_properties(golden/${rel} PROPERTIES LABELS golden TIMEOUT 120)
endforeach()
