/* tests/integration/drop_swap.c: an LD_PRELOAD shim for t_drop_races.
 *
 * It plays whoever can write the drop folder and swaps a drop at the worst
 * moment, deterministically. SL_SWAP_NAME names the drop (its base name).
 *
 * With SL_SWAP_OPEN_FROM=N, from the N-th openat() of that name on, before
 * the real open it applies SL_SWAP_OPEN_DO:
 *   during:/abs/B  B is renamed over the drop for the open only: the drop
 *                  is put aside, B takes its name, the real open runs, then
 *                  B goes back to /abs/B and the drop back to its name (the
 *                  path holds the original file again, the fd is B's)
 *   link:/abs/T    the drop is replaced by a symbolic link to T
 *   fifo           the drop is replaced by a FIFO
 *
 * With SL_SWAP_MOVE_AT=N, on the N-th rename of that name into the folder
 * SL_SWAP_MOVE_INTO (default "done"), SL_SWAP_MOVE_FROM (a file) is first
 * renamed over the name being moved: a producer that rewrote the drop by
 * write-temp-then-rename after its batch committed, at the instant of the
 * move. With SL_SWAP_MOVE_HOOK=mkdir it is done earlier, at the N-th
 * mkdirat() of SL_SWAP_MOVE_INTO (sluice makes sure the folder is there
 * before it looks at the drop and moves it).
 *
 * Without these variables it only passes the calls through. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_long opens, moves;

/* The path of `name` relative to directory fd `dfd`, in `out`. */
static int path_at(int dfd, const char *name, char *out, size_t cap)
{
    char link[64], dir[4096];
    ssize_t n;

    if (name[0] == '/' || dfd == AT_FDCWD) {
        snprintf(out, cap, "%s", name);
        return 0;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
    if ((n = readlink(link, dir, sizeof dir - 1)) <= 0)
        return -1;
    dir[n] = '\0';
    snprintf(out, cap, "%s/%s", dir, name);
    return 0;
}

static int is_watched(const char *path)
{
    const char *name = getenv("SL_SWAP_NAME");
    const char *base = strrchr(path, '/');
    return name && strcmp(base ? base + 1 : path, name) == 0;
}

static void say(const char *what, const char *path)
{
    fprintf(stderr, "drop_swap: %s %s\n", what, path);
}

typedef int (*openat_fn)(int, const char *, int, ...);

int openat(int dfd, const char *name, int flags, ...)
{
    static openat_fn real_openat;
    const char *from = getenv("SL_SWAP_OPEN_FROM"), *what = getenv("SL_SWAP_OPEN_DO");
    char path[8192], aside[8300];
    mode_t mode = 0;
    int fd, e, during = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (!real_openat)
        real_openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
    if (from && what && is_watched(name) && path_at(dfd, name, path, sizeof path) == 0 &&
        atomic_fetch_add(&opens, 1) + 1 >= strtol(from, NULL, 10)) {
        if (strncmp(what, "during:", 7) == 0) {
            snprintf(aside, sizeof aside, "%s.drop_swap-aside", path);
            if (rename(path, aside) == 0 && rename(what + 7, path) == 0) {
                during = 1;
                say("opening the swapped-in file at", path);
            }
        } else if (strncmp(what, "link:", 5) == 0) {
            if (unlink(path) == 0 && symlink(what + 5, path) == 0)
                say("replaced by a symbolic link:", path);
        } else if (strcmp(what, "fifo") == 0) {
            if (unlink(path) == 0 && mkfifo(path, 0644) == 0)
                say("replaced by a FIFO:", path);
        }
    }
    fd = real_openat(dfd, name, flags, mode);
    e = errno;
    if (during) {
        if (rename(path, what + 7) != 0 || rename(aside, path) != 0)
            say("could not put the original back at", path);
    }
    errno = e;
    return fd;
}

static void replace(const char *at, const char *src)
{
    const char *repl = getenv("SL_SWAP_MOVE_FROM");
    if (atomic_fetch_add(&moves, 1) + 1 == strtol(at, NULL, 10)) {
        if (rename(repl, src) == 0)
            say("replaced before its move:", src);
        else
            say("could not replace", src);
    }
}

/* Before a move of `from` (in olddfd) into SL_SWAP_MOVE_INTO. */
static void maybe_replace(int olddfd, const char *from, int newdfd, const char *to)
{
    const char *at = getenv("SL_SWAP_MOVE_AT"), *repl = getenv("SL_SWAP_MOVE_FROM");
    const char *into = getenv("SL_SWAP_MOVE_INTO"), *hook = getenv("SL_SWAP_MOVE_HOOK");
    char src[8192], dst[8192], want[300];

    if (!at || !repl || (hook && strcmp(hook, "rename") != 0) || !from || !to || !is_watched(from) ||
        path_at(olddfd, from, src, sizeof src) < 0 || path_at(newdfd, to, dst, sizeof dst) < 0)
        return;
    snprintf(want, sizeof want, "/%s/", into ? into : "done");
    if (strstr(dst, want))
        replace(at, src);
}

int mkdirat(int dfd, const char *dir, mode_t mode)
{
    static int (*real_mkdirat)(int, const char *, mode_t);
    const char *at = getenv("SL_SWAP_MOVE_AT"), *hook = getenv("SL_SWAP_MOVE_HOOK");
    const char *into = getenv("SL_SWAP_MOVE_INTO"), *name = getenv("SL_SWAP_NAME");
    char src[8192];

    if (at && name && getenv("SL_SWAP_MOVE_FROM") && hook && strcmp(hook, "mkdir") == 0 &&
        strcmp(dir, into ? into : "done") == 0 && path_at(dfd, name, src, sizeof src) == 0)
        replace(at, src);
    if (!real_mkdirat)
        real_mkdirat = (int (*)(int, const char *, mode_t))dlsym(RTLD_NEXT, "mkdirat");
    return real_mkdirat(dfd, dir, mode);
}

int renameat(int olddfd, const char *from, int newdfd, const char *to)
{
    static int (*real_renameat)(int, const char *, int, const char *);
    maybe_replace(olddfd, from, newdfd, to);
    if (!real_renameat)
        real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT,
                                                                           "renameat");
    return real_renameat(olddfd, from, newdfd, to);
}

int renameat2(int olddfd, const char *from, int newdfd, const char *to, unsigned int flags)
{
    static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
    maybe_replace(olddfd, from, newdfd, to);
    if (!real_renameat2)
        real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(
            RTLD_NEXT, "renameat2");
    return real_renameat2(olddfd, from, newdfd, to, flags);
}

/* A _FORTIFY_SOURCE build calls openat without a mode through this one. */
int __openat_2(int dfd, const char *name, int flags);
int __openat_2(int dfd, const char *name, int flags)
{
    return openat(dfd, name, flags);
}
