/* sources/files.c: the files source: drops in a folder.
 *
 * Each run lists the folder, takes the regular files that match the table's
 * pattern and have settled (not modified for `settle`, so a file still being
 * written is left for the next run; dot files and .tmp/.part names are never
 * taken), and hands them out oldest first (mtime, then name: a stable order).
 * A file still settling at the listing is looked at again once its window
 * has passed (a one-shot run waits for that: see pending(); a future mtime
 * counts as modified at the listing, so the wait is never over one window).
 * Each file's content hash (xxh3-128 over its bytes as stored) goes to the
 * ledger, so the same bytes under any name load once. The file stays open
 * from the hash to the commit and its rows are read from that open file; a
 * file that changed meanwhile (size, mtime, or another file now at its path)
 * is not committed (verify()): it is left for the next run. After the batch
 * commits the file moves to done/; bad input moves to failed/ with a .error
 * file beside it saying what and where. A new file put at its name since it
 * was loaded is not moved: it is left for the next run.
 *
 * Whoever can drop files can plant links too, so every open and move works
 * on directory descriptors: a drop is opened with O_NOFOLLOW (unless the
 * source sets follow_symlinks) and only when it is a regular file; done/,
 * failed/ and quarantine/ must be real directories inside the drop folder;
 * .error files are created exclusively, never through a link. */
#include "sources/source.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/mem.h"
#include "base/log.h"

#define HOLD_DIR "quarantine"

struct files_cfg {
    char *path;
    char *format;
    char *pattern;
    char *timezone;
    double settle;
    char delimiter;
    int header;
    char *done_dir;
    char *failed_dir;
    int follow_symlinks;
    char *layout;
    char *regex;
    int on_unparsed;            /* index into unparsed_choices */
    struct { char *start; } multiline;
    int multiline_given;
};

static const char *const unparsed_choices[] = {"dead_letter", "fail", NULL};
enum { UNPARSED_DEAD_LETTER, UNPARSED_FAIL };

static const struct sl_cfg_key files_keys[] = {
    {"path", SL_CFG_STR, offsetof(struct files_cfg, path), NULL, 1, NULL,
     "folder where files are dropped (relative to the config file)"},
    {"format", SL_CFG_STR, offsetof(struct files_cfg, format), NULL, 0, NULL,
     "csv | tsv | jsonl | syslog | clf | combined | log4j | regex; default: from each"
     " file's extension (csv, tsv, jsonl)"},
    {"pattern", SL_CFG_STR, offsetof(struct files_cfg, pattern), "*", 0, NULL,
     "glob of file names to take (a table's own pattern wins)"},
    {"timezone", SL_CFG_STR, offsetof(struct files_cfg, timezone), "UTC", 0, NULL,
     "tz database zone of timestamps written without an offset"},
    {"settle", SL_CFG_DURATION, offsetof(struct files_cfg, settle), "2s", 0, NULL,
     "a file is taken once unmodified for this long (still being written otherwise)"},
    {"delimiter", SL_CFG_CHAR, offsetof(struct files_cfg, delimiter), NULL, 0, NULL,
     "field delimiter for csv/tsv; default ',' for csv and tab for tsv"},
    {"header", SL_CFG_BOOL, offsetof(struct files_cfg, header), "true", 0, NULL,
     "csv/tsv: the first row names the columns"},
    {"done_dir", SL_CFG_STR, offsetof(struct files_cfg, done_dir), "done", 0, NULL,
     "where loaded files go, inside the drop folder"},
    {"failed_dir", SL_CFG_STR, offsetof(struct files_cfg, failed_dir), "failed", 0, NULL,
     "where files with bad input go, with a .error file beside them"},
    {"follow_symlinks", SL_CFG_BOOL, offsetof(struct files_cfg, follow_symlinks), "false", 0,
     NULL, "load what a symbolic link in the drop folder points to (else it is skipped)"},
    {"layout", SL_CFG_STR, offsetof(struct files_cfg, layout), NULL, 0, NULL,
     "log4j: the PatternLayout that wrote the log (\"%d [%t] %-5p %c - %m%n\"), or a preset:"
     " logback, log4j2, log4j-ttcc, spring-boot"},
    {"regex", SL_CFG_STR, offsetof(struct files_cfg, regex), NULL, 0, NULL,
     "regex: a pattern matching a whole record, its named groups (?<name>...) the columns"},
    {"on_unparsed", SL_CFG_ENUM, offsetof(struct files_cfg, on_unparsed), "dead_letter", 0,
     unparsed_choices, "log formats: a record that does not parse goes to the dead letter"
     " table with its file:line and text and the rest loads (dead_letter), or fails the"
     " drop (fail)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_cfg_key multiline_keys[] = {
    {"start", SL_CFG_STR, 0, NULL, 1, NULL,
     "a line matching this regex (at its start) begins a record; other lines join the"
     " record before (default for syslog and log4j: the format's own head)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_source_block files_blocks[] = {
    {"multiline", multiline_keys, offsetof(struct files_cfg, multiline),
     offsetof(struct files_cfg, multiline_given)},
    {NULL, NULL, 0, 0},
};

/* The reader options of the source, for a file modified at `mtime`. */
static struct sl_format_opts format_opts(const struct files_cfg *fc, int64_t mtime)
{
    struct sl_format_opts o = {0};
    o.delimiter = fc->delimiter;
    o.header = fc->header;
    o.timezone = fc->timezone;
    o.ref_time = mtime;
    o.layout = fc->layout;
    o.regex = fc->regex;
    o.multiline_start = fc->multiline_given ? fc->multiline.start : NULL;
    return o;
}

struct entry {
    char *name;
    struct timespec mtime;
    off_t size;
    enum { E_SETTLING, E_TAKEN, E_STILL_WRITTEN, E_GONE } state;   /* unsettled ones */
};

struct file_batch {
    struct sl_batch_input in;
    char *full;         /* absolute path */
    char *name;         /* base name */
    const char *at;     /* folder it is in, inside the drop folder; NULL = the drop folder */
    int fd;             /* open from the hash to the ack; -1 = none */
    struct stat st;     /* the file as it was hashed */
    struct replay_set *rp;  /* dead-lettered records read again, in place of a file */
};

/* Dead-lettered records of a log drop, read again (`sluice replay`). */
struct replay_rec {
    int64_t id;         /* its dead letter row */
    char *text;
    size_t len;
    char *file;         /* the drop it came from, as its refs name it */
    long line;          /* where it started in that drop */
    int64_t ref_time;   /* when it was set aside: the year of a time without one */
};

struct replay_set {
    struct replay_rec *r;
    size_t n;
    int64_t *by_index;  /* [index - 1]: the row record `index` of a pass replays */
    size_t nindex, capindex;
};

static void replay_set_free(struct replay_set *rp)
{
    if (!rp)
        return;
    for (size_t i = 0; i < rp->n; i++) {
        sl_free(rp->r[i].text);
        sl_free(rp->r[i].file);
    }
    sl_free(rp->r);
    sl_free(rp->by_index);
    sl_free(rp);
}

struct sl_source {
    const struct files_cfg *cfg;
    const struct sl_table_cfg *table;
    char *dir;          /* absolute drop folder */
    char *rel_dir;      /* as shown in refs: relative to the config folder */
    int dfd;            /* the drop folder, -1 while it does not exist */
    const char *pattern;
    struct entry *entries;
    size_t nentries, next;
    struct entry *unsettled;    /* inside their settle window at the listing */
    size_t nunsettled;
    struct sl_log_ctx log;
};

static int is_temp_name(const char *n)
{
    static const char *const suffixes[] = {".tmp", ".part", ".partial", ".crdownload",
                                           ".filepart", ".error", ".swp", "~"};
    size_t len = strlen(n);
    if (n[0] == '.')
        return 1;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t m = strlen(suffixes[i]);
        if (len >= m && strcmp(n + len - m, suffixes[i]) == 0)
            return 1;
    }
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int validate(const struct sl_pipeline_cfg *p, const char *cfgfile, struct sl_err *err)
{
    const struct files_cfg *fc = p->source_ctx;
    if (p->ntables > 1)
        for (size_t i = 0; i < p->ntables; i++)
            if (!p->tables[i].pattern)
                return sl_err_set(err, SL_E_CONFIG,
                                  "%s:%d:%d: pipeline \"%s\": table \"%s\" needs a pattern"
                                  " (a files pipeline with several tables gives each its own)",
                                  cfgfile, p->tables[i].pos.line, p->tables[i].pos.col,
                                  p->name, p->tables[i].name);
    const struct sl_format_ops *fmt = fc->format ? sl_format_find(fc->format, err) : NULL;
    if (fc->format && !fmt) {
        sl_err_prefix(err, "%s:%d:%d: pipeline \"%s\"", cfgfile, p->pos.line, p->pos.col, p->name);
        return -1;
    }
    /* the log formats' own keys, and only with them */
    const char *const log_only[][2] = {{"layout", fc->layout ? "log4j" : NULL},
                                       {"regex", fc->regex ? "regex" : NULL}};
    for (size_t i = 0; i < 2; i++)
        if (log_only[i][1] && (!fmt || strcmp(fmt->name, log_only[i][1]) != 0))
            return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": %s: is for format"
                              " %s (the source's format is %s)", cfgfile, p->pos.line,
                              p->pos.col, p->name, log_only[i][0], log_only[i][1],
                              fmt ? fmt->name : "taken from each file's extension");
    if (fc->multiline_given && (!fmt || !fmt->raw))
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": multiline: is for the"
                          " log formats (syslog, clf, combined, log4j, regex)", cfgfile,
                          p->pos.line, p->pos.col, p->name);
    if (fmt && fmt->check) {
        struct sl_format_opts o = format_opts(fc, 0);
        if (fc->timezone && !sl_tz_valid(fc->timezone))
            o.timezone = NULL;      /* said below, in the words of every format */
        if (fmt->check(&o, err) < 0) {
            sl_err_prefix(err, "%s:%d:%d: pipeline \"%s\": source", cfgfile, p->pos.line,
                          p->pos.col, p->name);
            return -1;
        }
    }
    if (fc->timezone && !sl_tz_valid(fc->timezone))
        return sl_err_set(err, SL_E_CONFIG,
                          "%s:%d:%d: pipeline \"%s\": unknown time zone \"%s\""
                          " (use a tz database name such as America/New_York)",
                          cfgfile, p->pos.line, p->pos.col, p->name, fc->timezone);
    const char *const own[][2] = {{"done_dir", fc->done_dir}, {"failed_dir", fc->failed_dir}};
    for (size_t i = 0; i < 2; i++)
        if (own[i][1] && (!*own[i][1] || strchr(own[i][1], '/') || strcmp(own[i][1], ".") == 0 ||
                          strcmp(own[i][1], "..") == 0 || strcmp(own[i][1], HOLD_DIR) == 0))
            return sl_err_set(err, SL_E_CONFIG,
                              "%s:%d:%d: pipeline \"%s\": %s \"%s\" must name one folder inside"
                              " the drop folder (no \"/\", not \".\", \"..\" or \"" HOLD_DIR "\")",
                              cfgfile, p->pos.line, p->pos.col, p->name, own[i][0], own[i][1]);
    return 0;
}

/* done/, failed/ and quarantine/ are sluice's own: never drops. */
static int is_own_dir(const struct sl_source *s, const char *name)
{
    return strcmp(name, s->cfg->done_dir) == 0 || strcmp(name, s->cfg->failed_dir) == 0 ||
           strcmp(name, HOLD_DIR) == 0;
}

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
         : S_ISCHR(m) || S_ISBLK(m) ? "a device" : S_ISLNK(m) ? "a symbolic link"
         : S_ISREG(m) ? "a file" : "not a regular file";
}

/* Open `sub` (done/, failed/ or quarantine/) of the drop folder, creating
 * it when asked. A link there would send drops wherever it points, so it
 * must be a real directory: O_NOFOLLOW, and moves go through renameat. */
static int open_own_dir(struct sl_source *s, const char *sub, int create, struct sl_err *err)
{
    struct stat st;
    int fd;

    if (s->dfd < 0)
        return sl_err_set(err, SL_E_IO, "drop folder \"%s\" does not exist", s->rel_dir);
    if (create && mkdirat(s->dfd, sub, 0777) < 0 && errno != EEXIST)
        return sl_err_set(err, SL_E_IO, "could not create \"%s/%s\": %s", s->rel_dir, sub,
                          strerror(errno));
    fd = openat(s->dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    if ((errno == ELOOP || errno == ENOTDIR) &&
        fstatat(s->dfd, sub, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return sl_err_set(err, SL_E_IO,
                          "\"%s/%s\" is %s, not a directory: sluice moves drops only into a real"
                          " directory inside the drop folder; remove it (sluice creates the"
                          " directory)", s->rel_dir, sub, file_kind(st.st_mode));
    return sl_err_set(err, SL_E_IO, "could not open \"%s/%s\": %s", s->rel_dir, sub,
                      strerror(errno));
}

/* Fail before loading anything when a folder drops would be moved into is
 * not a real directory (a load that commits and then cannot move its file
 * would leave it to be taken again). */
static int check_own_dirs(struct sl_source *s, struct sl_err *err)
{
    const char *own[] = {s->cfg->done_dir, s->cfg->failed_dir, HOLD_DIR};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        struct stat st;
        if (fstatat(s->dfd, own[i], &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
            continue;
        int fd = open_own_dir(s, own[i], 0, err);
        if (fd < 0)
            return -1;
        close(fd);
    }
    return 0;
}

/* Open the batch's file for reading. Never through a symbolic link unless
 * the source sets follow_symlinks, and only a regular file: O_NONBLOCK so a
 * FIFO put in its place cannot block the open. errno is kept on failure
 * (ENOENT: taken away since the listing). */
static int open_drop(struct sl_source *s, const struct file_batch *fb, struct sl_err *err)
{
    const char *at = fb->at ? fb->at : "";
    const char *sep = fb->at ? "/" : "";
    struct stat st;
    int dfd = fb->at ? open_own_dir(s, fb->at, 0, err) : s->dfd;
    int fd, e;

    if (dfd < 0) {
        if (s->dfd < 0)
            errno = ENOENT;
        return -1;
    }
    do
        fd = openat(dfd, fb->name, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
                                   (s->cfg->follow_symlinks ? 0 : O_NOFOLLOW));
    while (fd < 0 && errno == EINTR);
    e = errno;
    if (fd < 0 && e == ELOOP && !s->cfg->follow_symlinks)
        sl_err_set(err, SL_E_IO,
                   "could not open drop file \"%s/%s%s%s\": it is a symbolic link (set"
                   " follow_symlinks: true in the source to load what links point to)",
                   s->rel_dir, at, sep, fb->name);
    else if (fd < 0)
        sl_err_set(err, SL_E_IO, "could not open drop file \"%s/%s%s%s\": %s", s->rel_dir, at,
                   sep, fb->name, strerror(e));
    else if (fstat(fd, &st) < 0) {
        e = errno;
        sl_err_set(err, SL_E_IO, "could not open drop file \"%s/%s%s%s\": %s", s->rel_dir, at,
                   sep, fb->name, strerror(e));
        close(fd);
        fd = -1;
    } else if (!S_ISREG(st.st_mode)) {
        e = EINVAL;
        sl_err_set(err, SL_E_IO, "could not open drop file \"%s/%s%s%s\": it is %s; only"
                   " regular files are loaded", s->rel_dir, at, sep, fb->name,
                   file_kind(st.st_mode));
        close(fd);
        fd = -1;
    } else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        e = errno;
        sl_err_set(err, SL_E_IO, "could not open drop file \"%s/%s%s%s\": %s", s->rel_dir, at,
                   sep, fb->name, strerror(e));
        close(fd);
        fd = -1;
    }
    if (fb->at)
        close(dfd);
    errno = e;
    return fd;
}

/* Only regular files are drops: a link is skipped unless the source
 * follows links, and anything else (a FIFO, socket, device, directory) is
 * skipped with a warning, never opened. */
static int is_drop(struct sl_source *s, int dfd, const char *name, struct stat *st)
{
    char key[PATH_MAX + 64];

    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    snprintf(key, sizeof key, "%s/%s:kind", s->dir, name);
    if (S_ISLNK(st->st_mode)) {
        if (!s->cfg->follow_symlinks) {
            sl_log_once(SL_LOG_WARN, &s->log, key,
                        "%s/%s: skipped: a symbolic link (set follow_symlinks: true in the"
                        " source to load what links point to)", s->rel_dir, name);
            return 0;
        }
        if (fstatat(dfd, name, st, 0) < 0) {
            sl_log_once(SL_LOG_WARN, &s->log, key,
                        "%s/%s: skipped: a symbolic link to nothing (%s)", s->rel_dir, name,
                        strerror(errno));
            return 0;
        }
    }
    if (S_ISREG(st->st_mode))
        return 1;
    if (!(S_ISDIR(st->st_mode) && is_own_dir(s, name)))
        sl_log_once(SL_LOG_WARN, &s->log, key,
                    "%s/%s: skipped: %s; only regular files are loaded", s->rel_dir, name,
                    file_kind(st->st_mode));
    return 0;
}

static int scan(struct sl_source *s, struct sl_err *err)
{
    DIR *d;
    struct dirent *de;
    struct timespec now;
    int lfd;

    /* the configured folder itself may be a link: the config names it */
    s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0) {
        if (errno == ENOENT) {
            sl_log_once(SL_LOG_WARN, &s->log, s->dir,
                        "drop folder \"%s\" does not exist yet; nothing to load", s->rel_dir);
            return 0;
        }
        return sl_err_set(err, SL_E_IO, "could not open drop folder \"%s\": %s", s->rel_dir,
                          strerror(errno));
    }
    if (check_own_dirs(s, err) < 0)
        return -1;
    lfd = fcntl(s->dfd, F_DUPFD_CLOEXEC, 0);
    d = lfd < 0 ? NULL : fdopendir(lfd);
    if (!d) {
        int e = errno;
        if (lfd >= 0)
            close(lfd);
        return sl_err_set(err, SL_E_IO, "could not open drop folder \"%s\": %s", s->rel_dir,
                          strerror(e));
    }
    clock_gettime(CLOCK_REALTIME, &now);
    while ((de = readdir(d))) {
        struct stat st;
        if (is_temp_name(de->d_name) || fnmatch(s->pattern, de->d_name, 0) != 0)
            continue;
        if (!is_drop(s, dirfd(d), de->d_name, &st))
            continue;
        double age = (double)(now.tv_sec - st.st_mtim.tv_sec) +
                     (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
        if (age < s->cfg->settle) {
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "%s/%s@%lld", s->dir, de->d_name,
                     (long long)st.st_mtim.tv_sec);
            if (age < 0)
                sl_log_once(SL_LOG_INFO, &s->log, key,
                            "%s/%s: modification time %.1f s in the future, taken as modified"
                            " now: waiting for it to settle", s->rel_dir, de->d_name, -age);
            else
                sl_log_once(SL_LOG_INFO, &s->log, key,
                            "%s/%s: modified %.1f s ago, waiting for it to settle", s->rel_dir,
                            de->d_name, age);
            struct entry *nu = sl_realloc(s->unsettled, (s->nunsettled + 1) * sizeof *nu);
            if (!nu)
                goto oom;
            s->unsettled = nu;
            /* a future mtime waits one window from now, never until that
             * time: files_next looks at it again and leaves it if it is
             * still in the future */
            nu[s->nunsettled] = (struct entry){sl_strdup(de->d_name),
                                               age < 0 ? now : st.st_mtim, st.st_size,
                                               E_SETTLING};
            if (!nu[s->nunsettled].name)
                goto oom;
            s->nunsettled++;
            continue;
        }
        struct entry *ne = sl_realloc(s->entries, (s->nentries + 1) * sizeof *ne);
        if (!ne)
            goto oom;
        s->entries = ne;
        ne[s->nentries].name = sl_strdup(de->d_name);
        if (!ne[s->nentries].name)
            goto oom;
        ne[s->nentries].mtime = st.st_mtim;
        ne[s->nentries].size = st.st_size;
        s->nentries++;
    }
    closedir(d);
    if (s->nentries)
        qsort(s->entries, s->nentries, sizeof *s->entries, entry_cmp);
    if (s->nunsettled)
        qsort(s->unsettled, s->nunsettled, sizeof *s->unsettled, entry_cmp);
    return 0;
oom:
    closedir(d);
    return sl_err_set(err, SL_E_NOMEM, "out of memory listing \"%s\"", s->rel_dir);
}

static char *join(const char *a, const char *b)
{
    struct sl_buf buf;
    sl_buf_init(&buf);
    if (a && *a && strcmp(a, ".") != 0)
        sl_buf_printf(&buf, "%s/", a);
    sl_buf_puts(&buf, b);
    return buf.oom ? (sl_buf_free(&buf), NULL) : sl_buf_steal(&buf);
}

static int files_open(struct sl_source **out, const struct sl_config *c,
                      const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                      struct sl_err *err)
{
    struct sl_source *s = sl_calloc(1, sizeof *s);
    if (!s)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    s->cfg = p->source_ctx;
    s->table = t;
    s->pattern = t->pattern ? t->pattern : s->cfg->pattern ? s->cfg->pattern : "*";
    s->dir = sl_config_path(c, s->cfg->path);
    s->rel_dir = sl_strdup(s->cfg->path);
    s->log.pipeline = p->name;
    s->log.table = t->name;
    s->dfd = -1;
    if (!s->dir || !s->rel_dir) {
        sl_free(s->dir);
        sl_free(s->rel_dir);
        sl_free(s);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    if (scan(s, err) < 0) {
        if (s->dfd >= 0)
            close(s->dfd);
        s->log.table = NULL;
        for (size_t i = 0; i < s->nentries; i++)
            sl_free(s->entries[i].name);
        sl_free(s->entries);
        for (size_t i = 0; i < s->nunsettled; i++)
            sl_free(s->unsettled[i].name);
        sl_free(s->unsettled);
        sl_free(s->dir);
        sl_free(s->rel_dir);
        sl_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* A failure after the drop opened is never "taken away" or "not a regular
 * file" to take(): errno no longer says how the open went. */
static int past_open(int rc)
{
    errno = EIO;
    return rc;
}

/* xxh3-128 of the file's bytes as stored. The file stays open (fb->fd) with
 * what it was before the hash (fb->st), for verify(); rows are read from it
 * too (files_open_rows), so the rows loaded are the bytes hashed. errno is
 * open_drop's when the open fails. */
static int hash_file(struct sl_source *s, struct file_batch *fb, char out[33], uint64_t *bytes,
                     struct sl_err *err)
{
    const char *display = fb->in.ref;
    int fd = open_drop(s, fb, err);
    if (fd < 0)
        return -1;
    if (fstat(fd, &fb->st) < 0) {
        int e = errno;
        close(fd);
        return past_open(sl_err_set(err, SL_E_IO, "could not stat drop file \"%s\": %s",
                                    display, strerror(e)));
    }
    XXH3_state_t *st = XXH3_createState();
    char *buf = sl_malloc(1 << 20);
    if (!st || !buf) {
        close(fd);
        XXH3_freeState(st);
        sl_free(buf);
        return past_open(sl_err_set(err, SL_E_NOMEM, "out of memory"));
    }
    XXH3_128bits_reset(st);
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, 1 << 20)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            XXH3_freeState(st);
            sl_free(buf);
            return past_open(sl_err_set(err, SL_E_IO, "could not read drop file \"%s\": %s",
                                        display, strerror(e)));
        }
        XXH3_128bits_update(st, buf, (size_t)n);
        total += (uint64_t)n;
    }
    XXH128_hash_t h = XXH3_128bits_digest(st);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    *bytes = total;
    fb->fd = fd;
    fb->in.mtime = (int64_t)fb->st.st_mtim.tv_sec;
    XXH3_freeState(st);
    sl_free(buf);
    return 0;
}

static void free_batch(struct file_batch *fb)
{
    if (!fb)
        return;
    if (fb->fd >= 0)
        close(fb->fd);
    sl_free(fb->in.ref);
    sl_free(fb->full);
    sl_free(fb->name);
    replay_set_free(fb->rp);
    sl_free(fb);
}

/* A batch for the file at `path` inside the drop folder: in the folder
 * itself (at NULL), or in its sub-folder `at` ("quarantine/x.csv"). */
static struct file_batch *batch_new(struct sl_source *s, const char *path, const char *at,
                                    struct sl_err *err)
{
    struct file_batch *fb = sl_calloc(1, sizeof *fb);
    if (!fb) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    fb->fd = -1;
    fb->at = at;
    fb->name = sl_strdup(at ? path + strlen(at) + 1 : path);
    fb->full = join(s->dir, path);
    fb->in.ref = join(s->rel_dir, path);
    fb->in.timezone = s->cfg->timezone;
    fb->in.overlap = SL_DST_FAIL;
    {
        struct sl_err e;
        const struct sl_format_ops *f = s->cfg->format ? sl_format_find(s->cfg->format, &e) : NULL;
        fb->in.unparsed = f && f->raw && s->cfg->on_unparsed == UNPARSED_DEAD_LETTER;
    }
    fb->in.priv = fb;
    if (!fb->name || !fb->full || !fb->in.ref) {
        free_batch(fb);
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    return fb;
}

/* Drop `name` of the folder as a batch: 1 = *out, 0 = taken away since the
 * listing (not ours), -1 = error. */
static int take(struct sl_source *s, const char *name, struct sl_batch_input **out,
                struct sl_err *err)
{
    struct file_batch *fb = batch_new(s, name, NULL, err);
    if (!fb)
        return -1;
    if (hash_file(s, fb, fb->in.hash, &fb->in.bytes, err) < 0) {
        int e = errno;
        free_batch(fb);
        if (e == ENOENT)
            return 0;
        /* no longer a regular file since the listing (a link: ELOOP; a FIFO,
         * socket, device or directory: EINVAL, ENXIO, ENODEV): skipped like
         * one seen at the listing, the run's other drops still load */
        if (e == ELOOP || e == EINVAL || e == ENXIO || e == ENODEV) {
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "%s/%s:opened", s->dir, name);
            sl_log_once(SL_LOG_WARN, &s->log, key, "%s; skipped", err->msg);
            sl_err_clear(err);
            return 0;
        }
        return -1;
    }
    *out = &fb->in;
    return 1;
}

static double age_of(const struct timespec *mtime, const struct timespec *now)
{
    return (double)(now->tv_sec - mtime->tv_sec) + (double)(now->tv_nsec - mtime->tv_nsec) / 1e9;
}

static int files_next(struct sl_source *s, struct sl_batch_input **out, struct sl_err *err)
{
    while (s->next < s->nentries) {
        int rc = take(s, s->entries[s->next++].name, out, err);
        if (rc != 0)
            return rc;
    }
    /* files that were settling at the listing, once their window has passed:
     * taken if unchanged for `settle` since, else left for the next run */
    for (size_t i = 0; i < s->nunsettled; i++) {
        struct entry *e = &s->unsettled[i];
        struct timespec now;
        struct stat st;
        clock_gettime(CLOCK_REALTIME, &now);
        if (e->state != E_SETTLING || age_of(&e->mtime, &now) < s->cfg->settle)
            continue;
        if (!is_drop(s, s->dfd, e->name, &st)) {
            e->state = E_GONE;
            continue;
        }
        double age = age_of(&st.st_mtim, &now);
        if (age >= s->cfg->settle) {
            e->state = E_TAKEN;
            int rc = take(s, e->name, out, err);
            if (rc != 0)
                return rc;
            continue;
        }
        e->state = E_STILL_WRITTEN;
        if (age < 0) {
            /* once per mtime: a daemon meets it on every poll until then */
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "%s/%s@%lld:future", s->dir, e->name,
                     (long long)st.st_mtim.tv_sec);
            sl_log_once(SL_LOG_WARN, &s->log, key,
                        "%s/%s: modification time still %.1f s in the future; taken as still"
                        " being written and left for the next run (is the clock of whoever"
                        " writes it right?)", s->rel_dir, e->name, -age);
            continue;
        }
        sl_log(SL_LOG_WARN, &s->log, "%s/%s: still being written (modified %.1f s ago, settle"
               " is %g s); left for the next run", s->rel_dir, e->name, age, s->cfg->settle);
    }
    return 0;
}

/* Drops seen settling and not taken: for a one-shot run to wait for. */
static int files_pending(struct sl_source *s, double *wait_s)
{
    struct timespec now;
    int n = 0;

    clock_gettime(CLOCK_REALTIME, &now);
    *wait_s = -1;
    for (size_t i = 0; i < s->nunsettled; i++) {
        const struct entry *e = &s->unsettled[i];
        if (e->state == E_STILL_WRITTEN)
            n++;
        if (e->state != E_SETTLING)
            continue;
        n++;
        /* a little past the window, so the file's age is past it then;
         * never more than one window */
        double w = s->cfg->settle - age_of(&e->mtime, &now) + 0.02;
        if (w < 0)
            w = 0;
        if (w > s->cfg->settle + 0.02)
            w = s->cfg->settle + 0.02;
        if (*wait_s < 0 || w < *wait_s)
            *wait_s = w;
    }
    return n;
}

/* Is the drop still the file that was hashed, as it was? Its size and mtime
 * through the open fd (an append, a rewrite), and its path's inode (a new
 * file renamed over it). */
static int files_verify(struct sl_source *s, struct sl_batch_input *b, struct sl_err *err)
{
    struct file_batch *fb = b->priv;
    struct stat now, at_path;
    char what[160];

    if (fb->fd < 0)
        return 0;
    if (fstat(fb->fd, &now) < 0)
        return sl_err_set(err, SL_E_IO, "could not stat drop file \"%s\": %s", b->ref,
                          strerror(errno));
    if (now.st_size != fb->st.st_size)
        snprintf(what, sizeof what, "%lld bytes when it was read, %lld now",
                 (long long)fb->st.st_size, (long long)now.st_size);
    else if (now.st_mtim.tv_sec != fb->st.st_mtim.tv_sec ||
             now.st_mtim.tv_nsec != fb->st.st_mtim.tv_nsec)
        snprintf(what, sizeof what, "modified again after it was read");
    else if ((s->cfg->follow_symlinks ? stat(fb->full, &at_path) : lstat(fb->full, &at_path)) < 0)
        snprintf(what, sizeof what, "no longer there: %s", strerror(errno));
    else if (at_path.st_ino != fb->st.st_ino || at_path.st_dev != fb->st.st_dev)
        snprintf(what, sizeof what, "another file was put in its place");
    else
        return 0;
    sl_err_set(err, SL_E_IO, "%s: changed while loading (%s); nothing of it was committed,"
               " it is left where it is for the next run (is it still being written?"
               " raise the source's settle)", b->ref, what);
    return 1;
}

static int replay_rows(struct sl_source *s, struct file_batch *fb, struct sl_rowsrc *r,
                       struct sl_err *err);

static int files_open_rows(struct sl_source *s, struct sl_batch_input *b, struct sl_rowsrc *r,
                           struct sl_err *err)
{
    struct file_batch *fb = b->priv;
    const struct sl_format_ops *fmt;

    memset(r, 0, sizeof *r);
    if (fb->rp)
        return replay_rows(s, fb, r, err);
    fmt = s->cfg->format ? sl_format_find(s->cfg->format, err) : sl_format_for_path(fb->name);
    if (!fmt) {
        if (s->cfg->format)
            return -1;
        return sl_err_set(err, SL_E_INPUT,
                          "%s: cannot tell the format from the file name; set `format:` in the"
                          " source (csv, tsv, jsonl, or a log format: syslog, clf, combined,"
                          " log4j, regex)", b->ref);
    }
    struct sl_format_opts o = format_opts(s->cfg, (int64_t)fb->st.st_mtim.tv_sec);
    /* the fd that was hashed, not the path again: a file swapped in at the
     * path after the hash (and put back before verify) would otherwise load
     * its rows under the hash of the drop. The dup shares its offset with
     * fb->fd, which is fine: passes over the rows never overlap, and each
     * starts from the beginning. */
    int fd;
    if (fb->fd >= 0) {
        fd = fcntl(fb->fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return sl_err_set(err, SL_E_IO, "could not read drop file \"%s\" again: %s", b->ref,
                              strerror(e));
        }
    } else {
        fd = open_drop(s, fb, err);
    }
    if (fd < 0 || sl_stream_open_fd(&r->st, fd, b->ref, err) < 0)
        return -1;
    r->fmt = fmt;
    if (fmt->open(&r->rd, r->st, &o, err) < 0) {
        sl_stream_close(r->st);
        r->st = NULL;
        return -1;
    }
    return 0;
}

/* Is `name` in `dfd` free (nothing there, not even a dangling link)? */
static int name_free(int dfd, const char *name)
{
    struct stat st;
    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/* renameat that never overwrites: RENAME_NOREPLACE, so a file that appears
 * under `b` after it was looked at is never replaced; on a file system
 * without it (*noreplace becomes 0), a look and then the move. -1 with
 * errno EEXIST when `b` is taken. */
static int move_noreplace(int from, const char *a, int to, const char *b, int *noreplace)
{
    if (*noreplace) {
        if (renameat2(from, a, to, b, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EINVAL && errno != ENOSYS)
            return -1;
        *noreplace = 0;
    }
    if (!name_free(to, b)) {
        errno = EEXIST;
        return -1;
    }
    return renameat(from, a, to, b);
}

/* Is the file `name` in `dfd` the one the batch hashed (fb->st)? With
 * follow_symlinks that is what the link points to. *own is the entry itself
 * (the link, not its target). -1: not there. */
static int is_loaded_file(const struct sl_source *s, const struct file_batch *fb, int dfd,
                          const char *name, struct stat *own)
{
    struct stat st;
    if (fstatat(dfd, name, own, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    st = *own;
    if (S_ISLNK(own->st_mode) && s->cfg->follow_symlinks && fstatat(dfd, name, &st, 0) < 0)
        return -1;
    return st.st_ino == fb->st.st_ino && st.st_dev == fb->st.st_dev;
}

/* Move the batch's file (in the drop folder, or in quarantine/ when it was
 * held) into `sub`, never overwriting: a second file of the same name gets a
 * numbered suffix, chosen so that `companion` (".error") beside it is free
 * too. *moved (sl_malloc'd) is its name in `sub`. 1 = not moved: the file at
 * its name is no longer the one that was loaded (a producer renamed a new
 * one over it), and the new one is left where it is for the next run. */
static int move_into(struct sl_source *s, const struct file_batch *fb, const char *sub,
                     const char *companion, char **moved, struct sl_err *err)
{
    const char *at = fb->at ? fb->at : "", *sep = fb->at ? "/" : "";
    int from = fb->at ? open_own_dir(s, fb->at, 0, err) : s->dfd;
    int to = -1, rc = -1, noreplace = 1, done = 0, same;
    struct sl_buf name, side;
    struct stat own, there;

    sl_buf_init(&name);
    sl_buf_init(&side);
    if (from < 0 || (to = open_own_dir(s, sub, 1, err)) < 0)
        goto done;
    if ((same = is_loaded_file(s, fb, from, fb->name, &own)) < 0)
        goto move_failed;
    if (!same) {
        rc = 1;
        goto done;
    }
    for (int k = 0; k < 10000 && !done; k++) {
        sl_buf_reset(&name);
        sl_buf_reset(&side);
        if (k == 0)
            sl_buf_puts(&name, fb->name);
        else
            sl_buf_printf(&name, "%s.%d", fb->name, k);
        sl_buf_printf(&side, "%s%s", name.data, companion ? companion : "");
        if (name.oom || side.oom) {
            sl_err_set(err, SL_E_NOMEM, "out of memory");
            goto done;
        }
        if (companion && !name_free(to, side.data))
            continue;
        if (move_noreplace(from, fb->name, to, name.data, &noreplace) == 0)
            done = 1;
        else if (errno != EEXIST)
            goto move_failed;
    }
    if (!done) {
        sl_err_set(err, SL_E_IO, "could not move \"%s/%s%s%s\" to %s/%s/: every numbered name"
                   " is taken; clear out %s/%s/", s->rel_dir, at, sep, fb->name, s->rel_dir, sub,
                   s->rel_dir, sub);
        goto done;
    }
    /* a new file renamed over the name between the look above and the move
     * went to `sub` instead: it goes back, unless yet another took its name
     * (the entry itself is compared: a relative link resolves elsewhere
     * from `sub`) */
    if (fstatat(to, name.data, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
        (there.st_ino != own.st_ino || there.st_dev != own.st_dev)) {
        if (move_noreplace(to, name.data, from, fb->name, &noreplace) < 0) {
            sl_err_set(err, SL_E_IO, "a new file put at \"%s/%s%s%s\" after its batch was done"
                       " was moved to %s/%s/%s instead of the loaded one and could not be put"
                       " back (%s); move it back to load it", s->rel_dir, at, sep, fb->name,
                       s->rel_dir, sub, name.data, strerror(errno));
            goto done;
        }
        fsync(to);
        rc = 1;
        goto done;
    }
    fsync(to);
    if (moved)
        *moved = sl_buf_steal(&name);
    rc = 0;
    goto done;
move_failed:
    sl_err_set(err, SL_E_IO, "could not move \"%s/%s%s%s\" to %s/%s/: %s", s->rel_dir, at, sep,
               fb->name, s->rel_dir, sub, strerror(errno));
done:
    if (fb->at && from >= 0)
        close(from);
    if (to >= 0)
        close(to);
    sl_buf_free(&name);
    sl_buf_free(&side);
    return rc;
}

/* `name`.error in `sub`, created afresh: a link or file planted under that
 * name is never written through; the next numbered name is taken instead. */
static int write_error_file(struct sl_source *s, const char *sub, const char *name,
                            const char *why, struct sl_err *err)
{
    struct sl_buf p;
    int dfd = open_own_dir(s, sub, 0, err), fd = -1, rc = -1;

    sl_buf_init(&p);
    if (dfd < 0)
        return -1;
    for (int k = 0; k < 10000 && fd < 0; k++) {
        sl_buf_reset(&p);
        if (k == 0)
            sl_buf_printf(&p, "%s.error", name);
        else
            sl_buf_printf(&p, "%s.error.%d", name, k);
        if (p.oom) {
            sl_err_set(err, SL_E_NOMEM, "out of memory");
            goto done;
        }
        fd = openat(dfd, p.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) {
            sl_err_set(err, SL_E_IO, "could not write \"%s/%s/%s\": %s", s->rel_dir, sub, p.data,
                       strerror(errno));
            goto done;
        }
    }
    if (fd < 0) {
        sl_err_set(err, SL_E_IO, "could not write \"%s/%s/%s.error\": every numbered name is"
                   " taken; clear out %s/%s/", s->rel_dir, sub, name, s->rel_dir, sub);
        goto done;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        sl_err_set(err, SL_E_IO, "could not write \"%s/%s/%s\": %s", s->rel_dir, sub, p.data,
                   strerror(errno));
        close(fd);
        goto done;
    }
    fprintf(f, "%s\n", why ? why : "failed");
    if (fclose(f) != 0)
        sl_err_set(err, SL_E_IO, "could not write \"%s/%s/%s\": %s", s->rel_dir, sub, p.data,
                   strerror(errno));
    else
        rc = 0;
done:
    close(dfd);
    sl_buf_free(&p);
    return rc;
}

static int files_ack(struct sl_source *s, struct sl_batch_input *b, enum sl_outcome o,
                     const char *why, struct sl_err *err)
{
    struct file_batch *fb = b->priv;
    char *moved = NULL;
    int rc = 0;

    if (fb->rp) {           /* records out of the dead letter table: no file to move */
        free_batch(fb);
        return 0;
    }
    switch (o) {
    case SL_OUT_COMMITTED:
    case SL_OUT_DUPLICATE:
        rc = move_into(s, fb, s->cfg->done_dir, NULL, NULL, err);
        if (rc == 1)
            sl_log(SL_LOG_WARN, &s->log, "%s: %s, but a new file was put at its name before it"
                   " moved to %s/; the new file is left for the next run", b->ref,
                   o == SL_OUT_COMMITTED ? "loaded" : "a duplicate", s->cfg->done_dir);
        break;
    case SL_OUT_FAILED:
        rc = move_into(s, fb, s->cfg->failed_dir, ".error", &moved, err);
        if (rc == 0)
            rc = write_error_file(s, s->cfg->failed_dir, moved, why, err);
        else if (rc == 1)
            sl_log(SL_LOG_WARN, &s->log, "%s: failed, but a new file was put at its name before"
                   " it moved to %s/; the new file is left for the next run", b->ref,
                   s->cfg->failed_dir);
        break;
    case SL_OUT_QUARANTINED:     /* hold() has moved it already */
    case SL_OUT_RETRY_LATER:
        break;
    }
    sl_free(moved);
    free_batch(fb);
    return rc < 0 ? -1 : 0;
}

/* quarantine/README of a table with protected columns: what is held there
 * is the customer's drop as it came, raw values and all (it is their file);
 * the protection applies when the batch loads. */
static void hold_readme(struct sl_source *s)
{
    static const char text[] =
        "Files in this folder are drops held by a gate, kept as they came: they are the\n"
        "customer's own files. The table's protected columns (protect:) are protected as\n"
        "a batch is read, so these files still hold their raw values, as the drop folder\n"
        "did; nothing sluice stores or shows (the table, the ledger, gate reports, logs,\n"
        "the API) holds them. `sluice approve` loads a file protected; `sluice reject`\n"
        "sets it aside in failed/.\n";
    struct sl_err err;
    sl_err_clear(&err);
    int dfd = open_own_dir(s, HOLD_DIR, 0, &err);
    if (dfd < 0)
        return;
    int fd = openat(dfd, "README", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
            sl_log(SL_LOG_WARN, &s->log, "could not write %s/%s/README", s->rel_dir, HOLD_DIR);
        close(fd);
    }
    close(dfd);
}

static int files_hold(struct sl_source *s, struct sl_batch_input *b, char **held,
                      struct sl_err *err)
{
    struct file_batch *fb = b->priv;
    char *moved = NULL;
    int rc = move_into(s, fb, HOLD_DIR, NULL, &moved, err);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return sl_err_set(err, SL_E_IO, "%s: a new file was put at its name before it could be"
                          " held in %s/; nothing is held, the new file is left for the next run",
                          b->ref, HOLD_DIR);
    /* the ledger keeps it relative to the drop folder: "quarantine/a.csv" */
    *held = join(HOLD_DIR, moved);
    sl_free(fb->name);
    fb->name = moved;
    fb->at = HOLD_DIR;
    sl_free(fb->full);
    fb->full = *held ? join(s->dir, *held) : NULL;
    if (!*held || !fb->full)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (s->table && s->table->nprotect) {
        hold_readme(s);
        sl_log(SL_LOG_INFO, &s->log, "%s: held as it came (the customer's file, with the raw "
               "values of its protected columns; see %s/%s/README)", b->ref, s->rel_dir,
               HOLD_DIR);
    }
    return 0;
}

static int files_reopen(struct sl_source *s, const char *held, struct sl_batch_input **out,
                        struct sl_err *err)
{
    if (strncmp(held, HOLD_DIR "/", sizeof HOLD_DIR) != 0 || strstr(held, "..") ||
        strchr(held + sizeof HOLD_DIR, '/'))
        return sl_err_set(err, SL_E_INPUT, "held batch \"%s\" is not in %s/%s/", held,
                          s->rel_dir, HOLD_DIR);
    struct file_batch *fb = batch_new(s, held, HOLD_DIR, err);
    if (!fb)
        return -1;
    if (hash_file(s, fb, fb->in.hash, &fb->in.bytes, err) < 0) {
        free_batch(fb);
        return -1;
    }
    *out = &fb->in;
    return 0;
}

/* ---- dead-lettered records read again (`sluice replay`) ----
 *
 * Each record is read on its own, with the source's format as the config
 * has it now, as the lines of its drop it was: its lineno and the year of a
 * time without one come out as they would have. A record may read as
 * several now (a multiline start that changed); each replays its row. */

struct replay_reader {
    const struct sl_format_ops *fmt;
    struct sl_format_opts o;
    struct replay_set *rp;
    size_t next;                /* the next record to open */
    const struct replay_rec *cur;
    struct sl_stream *st;       /* over cur's text */
    struct sl_reader *rd;
    struct sl_stream *st0;      /* over nothing: the columns */
    struct sl_reader *rd0;
    long index;
    int has_raw;
};

static void replay_close(struct sl_reader *rdr)
{
    struct replay_reader *x = (struct replay_reader *)rdr;
    if (!x)
        return;
    if (x->rd)
        x->fmt->close(x->rd);
    sl_stream_close(x->st);
    if (x->rd0)
        x->fmt->close(x->rd0);
    sl_stream_close(x->st0);
    sl_free(x);
}

static int replay_next(struct sl_reader *rdr, struct sl_record *rec, struct sl_err *err)
{
    struct replay_reader *x = (struct replay_reader *)rdr;
    struct replay_set *rp = x->rp;
    for (;;) {
        if (!x->rd) {
            if (x->next == rp->n)
                return 0;
            x->cur = &rp->r[x->next++];
            struct sl_format_opts o = x->o;
            o.ref_time = x->cur->ref_time;
            o.first_line = x->cur->line;
            if (sl_stream_open_mem(&x->st, x->cur->file, x->cur->text, x->cur->len, 0, err) < 0)
                return -1;
            if (x->fmt->open(&x->rd, x->st, &o, err) < 0) {
                sl_stream_close(x->st);
                x->st = NULL;
                x->rd = NULL;
                return -1;
            }
        }
        int rc = x->fmt->next(x->rd, rec, err);
        if (rc == 0) {
            x->fmt->close(x->rd);
            sl_stream_close(x->st);
            x->rd = NULL;
            x->st = NULL;
            continue;
        }
        const char *t;
        size_t n;
        long l, i;
        x->has_raw = rc > 0 || x->fmt->raw(x->rd, &t, &n, &l, &i);
        if (x->has_raw) {
            if (rp->nindex == rp->capindex) {
                size_t cap = rp->capindex ? rp->capindex * 2 : 64;
                int64_t *nb = sl_realloc(rp->by_index, cap * sizeof *nb);
                if (!nb)
                    return sl_err_set(err, SL_E_NOMEM, "out of memory");
                rp->by_index = nb;
                rp->capindex = cap;
            }
            rp->by_index[rp->nindex++] = x->cur->id;
            x->index++;
        }
        if (rc > 0)
            rec->index = x->index;
        return rc;
    }
}

static int replay_raw(struct sl_reader *rdr, const char **text, size_t *len, long *line,
                      long *index)
{
    struct replay_reader *x = (struct replay_reader *)rdr;
    long i;
    if (!x->rd || !x->has_raw || !x->fmt->raw(x->rd, text, len, line, &i))
        return 0;
    *index = x->index;
    return 1;
}

static size_t replay_columns(struct sl_reader *rdr, const struct sl_field **out)
{
    struct replay_reader *x = (struct replay_reader *)rdr;
    return x->fmt->columns ? x->fmt->columns(x->rd0, out) : 0;
}

static const struct sl_format_ops replay_format = {
    .name = "replay",
    .next = replay_next,
    .close = replay_close,
    .columns = replay_columns,
    .raw = replay_raw,
};

static int replay_rows(struct sl_source *s, struct file_batch *fb, struct sl_rowsrc *r,
                       struct sl_err *err)
{
    struct replay_reader *x = sl_calloc(1, sizeof *x);
    if (!x)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    x->fmt = sl_format_find(s->cfg->format, err);
    x->o = format_opts(s->cfg, 0);
    x->rp = fb->rp;
    x->rp->nindex = 0;      /* a pass numbers its records from 1 */
    if (!x->fmt || sl_stream_open_mem(&x->st0, fb->in.ref, "", 0, 0, err) < 0 ||
        x->fmt->open(&x->rd0, x->st0, &x->o, err) < 0) {
        replay_close((struct sl_reader *)x);
        return -1;
    }
    r->fmt = &replay_format;
    r->rd = (struct sl_reader *)x;
    return 0;
}

static int files_replay(struct sl_source *s, const struct sl_rows *rows, const char *ref,
                        struct sl_batch_input **out, struct sl_err *err)
{
    struct sl_err ferr;
    const struct sl_format_ops *fmt = s->cfg->format ? sl_format_find(s->cfg->format, &ferr)
                                                     : NULL;
    if (out)
        *out = NULL;
    if (!fmt || !fmt->raw) {
        sl_err_set(err, SL_E_CONFIG, "its format (%s) sets no records aside, only the log"
                   " formats do: nothing to replay", s->cfg->format ? s->cfg->format
                                                                    : "from the file names");
        return rows ? -1 : 0;
    }
    if (!rows)
        return 1;
    struct file_batch *fb = sl_calloc(1, sizeof *fb);
    struct replay_set *rp = sl_calloc(1, sizeof *rp);
    if (!fb || !rp || !(rp->r = sl_calloc(rows->nrows + 1, sizeof *rp->r)) ||
        !(fb->in.ref = sl_strdup(ref))) {
        sl_free(fb ? fb->in.ref : NULL);
        sl_free(fb);
        replay_set_free(rp);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    fb->fd = -1;
    fb->rp = rp;
    fb->in.timezone = s->cfg->timezone;
    fb->in.overlap = SL_DST_FAIL;
    fb->in.unparsed = 1;
    fb->in.replay = 1;
    fb->in.priv = fb;
    for (size_t i = 0; i < rows->nrows; i++) {
        const char *table = sl_rows_get(rows, i, 1), *text = sl_rows_get(rows, i, 2);
        const char *at = sl_rows_get(rows, i, 3), *eid = sl_rows_get(rows, i, 5);
        if (!table || strcmp(table, s->table->name) != 0)
            continue;
        struct replay_rec *e = &rp->r[rp->n];
        sl_usec t;
        e->id = strtoll(sl_rows_get(rows, i, 0), NULL, 10);
        e->len = text ? strlen(text) : 0;
        e->text = sl_strndup(text ? text : "", e->len);
        e->ref_time = at && sl_time_parse(at, strlen(at), NULL, &t, NULL, 0) == 0
                          ? t / 1000000 : sl_time_now() / 1000000;
        /* event_id is "<drop>:<line>" */
        const char *colon = eid ? strrchr(eid, ':') : NULL;
        e->line = colon ? strtol(colon + 1, NULL, 10) : 0;
        e->file = colon ? sl_strndup(eid, (size_t)(colon - eid)) : sl_strdup(ref);
        if (e->line < 1)
            e->line = 1;
        rp->n++;
        if (!e->text || !e->file) {
            free_batch(fb);
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    if (rp->n == 0) {
        free_batch(fb);
        return 0;
    }
    *out = &fb->in;
    return 1;
}

static int files_event(struct sl_source *s, struct sl_batch_input *b, long index,
                       struct sl_event_info *out)
{
    struct file_batch *fb = b->priv;
    (void)s;
    memset(out, 0, sizeof *out);
    if (!fb->rp || index < 1 || (size_t)index > fb->rp->nindex)
        return -1;
    out->replay_of = fb->rp->by_index[index - 1];
    return 0;
}

static void files_close(struct sl_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nentries; i++)
        sl_free(s->entries[i].name);
    sl_free(s->entries);
    if (s->dfd >= 0)
        close(s->dfd);
    for (size_t i = 0; i < s->nunsettled; i++)
        sl_free(s->unsettled[i].name);
    sl_free(s->unsettled);
    sl_free(s->dir);
    sl_free(s->rel_dir);
    sl_free(s);
}

const struct sl_source_ops sl_source_files = {
    .kind = "files",
    .keys = files_keys,
    .blocks = files_blocks,
    .ctx_size = sizeof(struct files_cfg),
    .validate = validate,
    .open = files_open,
    .next_batch = files_next,
    .open_rows = files_open_rows,
    .hold = files_hold,
    .reopen = files_reopen,
    .ack = files_ack,
    .close = files_close,
    .verify = files_verify,
    .pending = files_pending,
    .replay = files_replay,
    .event = files_event,
};
