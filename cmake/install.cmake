# cmake/install.cmake: the part of `cmake --install` (make install) that
# depends on the prefix given at install time (--prefix, PREFIX=): the
# systemd unit, whose ExecStart names the installed binary and config, and
# the example config. With prefix /usr they go to /lib/systemd/system and
# /etc/sluice (Debian's places), else under the prefix. DESTDIR is honoured
# (file(INSTALL) puts it in front), and an existing config is never
# overwritten: it is the operator's.
#   SLUICE_SRC, SLUICE_BIN_DIR: set by install(CODE) in CMakeLists.txt
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SYSCONFDIR "/etc")
  set(UNITDIR "/lib/systemd/system")
else()
  set(SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc")
  set(UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(BINDIR "${CMAKE_INSTALL_PREFIX}/bin")
configure_file("${SLUICE_SRC}/contrib/systemd/sluice.service.in"
               "${SLUICE_BIN_DIR}/install/sluice.service" @ONLY)
file(INSTALL "${SLUICE_BIN_DIR}/install/sluice.service" DESTINATION "${UNITDIR}")
if(EXISTS "$ENV{DESTDIR}${SYSCONFDIR}/sluice/sluice.yaml")
  message(STATUS "Kept: $ENV{DESTDIR}${SYSCONFDIR}/sluice/sluice.yaml (yours)")
else()
  file(INSTALL "${SLUICE_SRC}/packaging/sluice.yaml" DESTINATION "${SYSCONFDIR}/sluice"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
