# Durability tests (included from tests/CMakeLists.txt).
#
# append_helper is a separate process that the tests start with fork + exec,
# kill with SIGKILL, or let hold the database; durability_test finds it
# through RUNIC_APPEND_HELPER (its absolute path in this build).
add_executable(append_helper append_helper.cc)
target_include_directories(append_helper PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(append_helper PRIVATE runic Threads::Threads)

runic_test(durability_test SOURCES durability_test.cc LABEL durability TIMEOUT 600)
target_compile_definitions(durability_test PRIVATE RUNIC_APPEND_HELPER="$<TARGET_FILE:append_helper>")
add_dependencies(durability_test append_helper)
