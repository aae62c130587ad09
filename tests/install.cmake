# The install test (label "install"): installs this build into a temporary
# prefix with `cmake --install`, then builds and runs examples/ against it
# twice -- through the CMake package config (find_package(runic)) and through
# pkg-config -- and checks the installed headers and librunic.so's SONAME.
# See install_test.sh. It needs the library built (ctest does not build).
set(_runic_install_test_flags "")
if(RUNIC_SANITIZE)
  # A sanitized librunic.so only links into sanitized programs.
  set(_runic_install_test_flags "-fsanitize=${RUNIC_SANITIZE} -fno-omit-frame-pointer")
endif()
add_test(NAME install
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install_test.sh
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${CMAKE_COMMAND} ${CMAKE_CXX_COMPILER}
          "${_runic_install_test_flags}")
set_tests_properties(install PROPERTIES LABELS install TIMEOUT 600)
