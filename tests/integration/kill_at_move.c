/* tests/integration/kill_at_move.c: an LD_PRELOAD shim for t_kill_recover.
 *
 * With SL_KILL_AT_MOVE=N in the environment, the N-th rename(), renameat()
 * or renameat2() into a done/ folder (the files source moves with renameat2
 * on directory descriptors) kills the process with SIGKILL instead of moving
 * the drop: its batch has committed, the drop is still in the drop folder, and only the
 * ledger knows it is loaded (the window between commit and ack). With
 * SL_KILL_AT_MOVE_MARK set, the target path is written to that file first,
 * so the test knows the kill fell there. Without SL_KILL_AT_MOVE it only
 * passes rename() through. */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long moves;

/* Called before each move into `to`: kills at the N-th one into done/. */
static void maybe_kill(const char *to)
{
    const char *at = getenv("SL_KILL_AT_MOVE");
    if (!at || !to || !strstr(to, "/done/"))
        return;
    long n = strtol(at, NULL, 10);
    if (n > 0 && atomic_fetch_add(&moves, 1) + 1 == n) {
        const char *mark = getenv("SL_KILL_AT_MOVE_MARK");
        int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
        if (fd >= 0) {
            if (write(fd, to, strlen(to)) < 0) {
                /* the kill matters more than the mark */
            }
            close(fd);
        }
        raise(SIGKILL);
    }
}

int rename(const char *from, const char *to)
{
    static int (*real_rename)(const char *, const char *);
    maybe_kill(to);
    if (!real_rename)
        real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    return real_rename(from, to);
}

/* maybe_kill for a move to `to` in directory fd `newdirfd`. */
static void maybe_kill_at(int newdirfd, const char *to)
{
    char link[64], dir[4096], path[8192];
    ssize_t n;

    snprintf(link, sizeof link, "/proc/self/fd/%d", newdirfd);
    if (to && to[0] != '/' && (n = readlink(link, dir, sizeof dir - 1)) > 0) {
        dir[n] = '\0';
        snprintf(path, sizeof path, "%s/%s", dir, to);
        maybe_kill(path);
    } else {
        maybe_kill(to);
    }
}

int renameat(int olddirfd, const char *from, int newdirfd, const char *to)
{
    static int (*real_renameat)(int, const char *, int, const char *);
    maybe_kill_at(newdirfd, to);
    if (!real_renameat)
        real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT,
                                                                           "renameat");
    return real_renameat(olddirfd, from, newdirfd, to);
}

/* the files source moves with renameat2(RENAME_NOREPLACE) where it can */
int renameat2(int olddirfd, const char *from, int newdirfd, const char *to, unsigned int flags)
{
    static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
    maybe_kill_at(newdirfd, to);
    if (!real_renameat2)
        real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(
            RTLD_NEXT, "renameat2");
    return real_renameat2(olddirfd, from, newdirfd, to, flags);
}
