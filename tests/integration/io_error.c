/* tests/integration/io_error.c: an LD_PRELOAD shim for t_warehouse_io_error.
 *
 * It plays a failing disk under the SQLite warehouse. While the file named
 * by SL_EIO_FLAG exists, every write, pwrite, pwrite64, fsync and fdatasync
 * on a file whose path contains SL_EIO_MATCH (say "/wh.db", which catches
 * the database and its -wal and -journal files) fails with EIO, as a disk
 * with a bad sector or a lost network block device answers. Reads still
 * work. The test removes the flag to give the disk back, so one process can
 * see the failure come and go. Without the variables it only passes the
 * calls through. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* 1 when writes to fd are to fail now. */
static int failing(int fd)
{
    const char *flag = getenv("SL_EIO_FLAG"), *match = getenv("SL_EIO_MATCH");
    char link[64], path[4096];
    if (!flag || !match || access(flag, F_OK) != 0)
        return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return strstr(path, match) != NULL;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*sync_fn)(int);

#define REAL(name, type) \
    static type real_##name; \
    if (!real_##name) \
        real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write, write_fn);
    if (failing(fd))
        return errno = EIO, -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite, pwrite_fn);
    if (failing(fd))
        return errno = EIO, -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64, pwrite_fn);
    if (failing(fd))
        return errno = EIO, -1;
    return real_pwrite64(fd, buf, n, off);
}

int fsync(int fd)
{
    REAL(fsync, sync_fn);
    if (failing(fd))
        return errno = EIO, -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync, sync_fn);
    if (failing(fd))
        return errno = EIO, -1;
    return real_fdatasync(fd);
}
