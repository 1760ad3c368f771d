# Test helpers driven by the integration scripts: fakeup is a scriptable fake
# upstream DNS server, dnsq a raw DNS client.  Included from tests/CMakeLists.txt;
# needs PkgConfig::LDNS from the top-level CMakeLists.txt.
add_executable(fakeup ${CMAKE_CURRENT_LIST_DIR}/fakeup/fakeup.c)
target_link_libraries(fakeup PRIVATE PkgConfig::LDNS)

add_executable(dnsq ${CMAKE_CURRENT_LIST_DIR}/tools/dnsq.c)
target_link_libraries(dnsq PRIVATE PkgConfig::LDNS)
