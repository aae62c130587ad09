# Crash recovery of the Runner (included from tests/CMakeLists.txt).
#
# runner_crash_helper is a separate process that runner_crash_test starts
# with fork + exec, kills with SIGKILL after a random number of completed
# runnables, and starts again to resume; the test finds it through
# RUNIC_RUNNER_CRASH_HELPER (its absolute path in this build).
add_executable(runner_crash_helper runner_crash_helper.cc)
target_include_directories(runner_crash_helper PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(runner_crash_helper PRIVATE runic Threads::Threads)

runic_test(runner_crash_test SOURCES runner_crash_test.cc LABEL crash TIMEOUT 600)
target_compile_definitions(runner_crash_test PRIVATE RUNIC_RUNNER_CRASH_HELPER="$<TARGET_FILE:runner_crash_helper>")
add_dependencies(runner_crash_test runner_crash_helper)
