# One CTest test per golden file (see golden.py for the file format). New
# files are picked up on the next build (CONFIGURE_DEPENDS).
# tests/testdata/check, eval, fmt and scenarios are run by their own runners
# (tests/check/golden_test.cpp, tests/format, tests/planner), whose format
# differs in details (`%t` kept in output, NAME.d/ sibling files), so only
# the directories listed here use this runner.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(kiln_golden_dirs parse)
set(kiln_golden_files)
foreach(d ${kiln_golden_dirs})
  file(GLOB_RECURSE found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/testdata/${d}/*.kiln)
  list(APPEND kiln_golden_files ${found})
endforeach()
foreach(golden ${kiln_golden_files})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/testdata ${golden})
  add_test(NAME golden/${rel}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/golden/golden.py
                   $<TARGET_FILE:kiln> ${golden})
  set_tests_properties(golden/${rel} PROPERTIES LABELS golden TIMEOUT 120)
endforeach()
