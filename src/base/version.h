/* base/version.h: the version this binary was built from, as `git describe
 * --tags --always --dirty` said at build time (cmake/version.cmake), else the
 * source tree's VERSION file, else "unknown". `sluice --version`, /api/status
 * and the dashboard's footer show it. */
#ifndef SL_VERSION_H
#define SL_VERSION_H

extern const char sl_version[];

#endif
