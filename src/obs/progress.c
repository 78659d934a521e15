/* obs/progress.c: the progress line (see progress.h). */
#include "obs/progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/stream.h"
#include "base/log.h"

static atomic_int enabled;

void sl_progress_enable(int on)
{
    atomic_store(&enabled, on && isatty(STDERR_FILENO));
}

void sl_progress_begin(struct sl_progress *p)
{
    p->on = atomic_load(&enabled);
    if (p->on) {
        clock_gettime(CLOCK_MONOTONIC, &p->t0);
        p->last = p->t0;
    }
}

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void fmt_count(char *out, size_t cap, double v)
{
    if (v >= 1e9)
        snprintf(out, cap, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, cap, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, cap, "%.1fk", v / 1e3);
    else
        snprintf(out, cap, "%.0f", v);
}

static void fmt_eta(char *out, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, cap, "%lds", t);
}

/* The passes on the line now, oldest first. */
#define MAXSHOWN 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sl_progress *shown[MAXSHOWN];
static size_t nshown;

/* Draw the line from every pass shown; called with mu held. */
static void draw(void)
{
    char line[1024];
    size_t n = 0;
    line[0] = '\0';
    if (nshown == 1) {
        snprintf(line, sizeof line, "%s", shown[0]->full);
    } else {
        for (size_t i = 0; i < nshown && n < sizeof line; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i ? " | " : "",
                                  shown[i]->part);
    }
    /* never wider than the terminal: a wrapped line cannot be redrawn in place */
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        strlen(line) >= ws.ws_col && (size_t)ws.ws_col < sizeof line)
        line[ws.ws_col - 1] = '\0';
    sl_log_status_line(line[0] ? line : NULL);
}

void sl_progress_tick(struct sl_progress *p)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (since(&p->last, &now) < 0.1)
        return;
    p->last = now;
    double el = since(&p->t0, &now);
    if (el <= 0)
        return;
    uint64_t done = p->st ? sl_stream_raw_bytes(p->st) : 0;
    char rows[16], rate[16], eta[32] = "";
    fmt_count(rows, sizeof rows, (double)p->rows);
    fmt_count(rate, sizeof rate, (double)p->rows / el);
    double mb = (double)done / 1e6, mbs = mb / el;

    pthread_mutex_lock(&mu);
    if (p->total && done) {
        double frac = (double)done / (double)p->total;
        if (frac > 1)
            frac = 1;
        if (mbs > 0)
            fmt_eta(eta, sizeof eta, ((double)p->total - (double)done) / 1e6 / mbs);
        snprintf(p->full, sizeof p->full,
                 "%s/%s %s %s: %s rows, %.1f of %.1f MB (%.0f%%), %s rows/s, %.1f MB/s, ETA %s",
                 p->pipeline, p->table, p->phase, p->ref, rows, mb, (double)p->total / 1e6,
                 frac * 100, rate, mbs, eta[0] ? eta : "-");
        snprintf(p->part, sizeof p->part, "%s %.0f%% %s rows ETA %s", p->table, frac * 100,
                 rows, eta[0] ? eta : "-");
    } else {
        snprintf(p->full, sizeof p->full, "%s/%s %s %s: %s rows, %.1f MB, %s rows/s, %.1f MB/s",
                 p->pipeline, p->table, p->phase, p->ref, rows, mb, rate, mbs);
        snprintf(p->part, sizeof p->part, "%s %s rows %s rows/s", p->table, rows, rate);
    }
    if (!p->shown && nshown < MAXSHOWN) {
        shown[nshown++] = p;
        p->shown = 1;
    }
    if (p->shown)
        draw();
    pthread_mutex_unlock(&mu);
}

void sl_progress_end(struct sl_progress *p)
{
    if (!p->shown)
        return;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nshown; i++)
        if (shown[i] == p) {
            memmove(&shown[i], &shown[i + 1], (nshown - i - 1) * sizeof shown[0]);
            nshown--;
            break;
        }
    p->shown = 0;
    draw();
    pthread_mutex_unlock(&mu);
}
