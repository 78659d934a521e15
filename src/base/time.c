/* base/time.c: timestamps and durations (declared in base/value.h).
 *
 * Parses ISO-8601-like timestamps into microseconds since the epoch, formats
 * them in the one canonical UTC form, and turns naive local times into UTC
 * with the tz database's rules. Callers: value.c (timestamptz columns), the
 * timestamps gate, config (durations, zone names).
 *
 * Zones are read from the TZif files under /usr/share/zoneinfo (or $TZDIR)
 * by this file rather than through setenv("TZ")/mktime: that is thread-safe
 * without a global lock around libc, it tells a DST gap from an overlap
 * exactly, and it is fast enough for millions of naive values. Loaded zones
 * are cached for the life of the process (a handful, named in the config). */
#include "base/value.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_SECS 86400

/* Supported instants: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z,
 * so the canonical text keeps its fixed width and orders as text. */
#define MIN_SECS INT64_C(-62135596800)
#define END_SECS INT64_C(253402300800)

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* ---- calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms) ---- */

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 ? 28 + is_leap(y) : dm[m - 1];
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* 0 = Sunday */
static int weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* ---- formatting ---- */

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void sl_time_format(sl_usec t, char out[32])
{
    int64_t secs = floor_div(t, 1000000);
    int64_t us = t % 1000000;   /* not t - secs * 1e6: that overflows at INT64_MIN */
    if (us < 0)
        us += 1000000;
    int64_t days = floor_div(secs, DAY_SECS);
    int64_t sod = secs - days * DAY_SECS;
    int64_t y;
    int m, d;

    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        /* outside what sl_time_parse produces; still well-formed text */
        snprintf(out, 32, "%" PRId64 "-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)us);
        return;
    }
    char *p = out;
    p = put2(p, (int)(y / 100));
    p = put2(p, (int)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (int)(sod / 3600));
    *p++ = ':';
    p = put2(p, (int)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (int)(sod % 60));
    *p++ = '.';
    int u = (int)us;
    p = put2(p, u / 10000);
    p = put2(p, u / 100 % 100);
    p = put2(p, u % 100);
    *p++ = 'Z';
    *p = '\0';
}

sl_usec sl_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sl_usec)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- tz database ---- */

struct tz_type {
    int32_t utoff;      /* seconds east of UTC */
    int isdst;
};

/* One date of a POSIX TZ rule: Jn (1-365, no Feb 29), n (0-365) or Mm.w.d. */
struct tz_rdate {
    char kind;          /* 'J', 'N' or 'M' */
    int n, m, w, d;
    int32_t time;       /* seconds after local midnight, may be negative or > 24h */
};

/* The POSIX TZ string at the end of a TZif v2+ file: rules for every instant
 * after the last transition in the table. */
struct tz_rule {
    int present;
    int has_dst;
    int32_t std_off, dst_off;   /* seconds east of UTC */
    struct tz_rdate start, end;
};

struct tz_zone {
    struct tz_zone *next;
    char *name;
    int ok;                     /* 0: unknown zone (negative cache entry) */
    size_t ntrans;
    int64_t *trans;             /* UTC seconds, ascending */
    unsigned char *idx;         /* type index per transition */
    size_t ntypes;
    struct tz_type *types;
    struct tz_rule rule;
};

/* a transition inside a window: offset in force from `t` on */
struct tz_tr {
    int64_t t;
    int32_t off;
    int to_dst;
};

static pthread_mutex_t zones_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tz_zone *zones;                      /* immutable once linked */
static _Thread_local const struct tz_zone *tl_zone; /* last zone this thread used */

static int zone_is_utc(const char *zone)
{
    return !zone || strcmp(zone, "UTC") == 0 || strcmp(zone, "Etc/UTC") == 0;
}

static int zone_name_sane(const char *zone)
{
    size_t n = strlen(zone);
    if (n == 0 || n > 200 || zone[0] == '/' || strstr(zone, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = zone[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+' || c == '.'))
            return 0;
    }
    return 1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30") ---- */

static const char *tzs_name(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q && q - p >= 2 ? q + 1 : NULL;
    }
    const char *q = p;
    while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
        q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]h[h[h]][:mm[:ss]] -> seconds (sign as written) */
static const char *tzs_hms(const char *p, int maxh, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return NULL;
    int h = 0, mi = 0, se = 0, nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 3) {
        h = h * 10 + (*p++ - '0');
        nd++;
    }
    if (h > maxh)
        return NULL;
    if (*p == ':') {
        p++;
        if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
            return NULL;
        mi = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
                return NULL;
            se = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    *out = sign * (h * 3600 + mi * 60 + se);
    return p;
}

static const char *tzs_num(const char *p, int lo, int hi, int *out)
{
    int v = 0, nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 4) {
        v = v * 10 + (*p++ - '0');
        nd++;
    }
    if (nd == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *tzs_rdate(const char *p, struct tz_rdate *r)
{
    if (*p == 'J') {
        r->kind = 'J';
        p = tzs_num(p + 1, 1, 365, &r->n);
    } else if (*p == 'M') {
        r->kind = 'M';
        p = tzs_num(p + 1, 1, 12, &r->m);
        if (!p || *p++ != '.')
            return NULL;
        p = tzs_num(p, 1, 5, &r->w);
        if (!p || *p++ != '.')
            return NULL;
        p = tzs_num(p, 0, 6, &r->d);
    } else {
        r->kind = 'N';
        p = tzs_num(p, 0, 365, &r->n);
    }
    if (!p)
        return NULL;
    r->time = 7200;
    if (*p == '/')
        p = tzs_hms(p + 1, 167, &r->time);
    return p;
}

static int tzs_parse(const char *s, struct tz_rule *r)
{
    int32_t off;
    const char *p = tzs_name(s);
    if (!p || !(p = tzs_hms(p, 24, &off)))
        return -1;
    memset(r, 0, sizeof *r);
    r->std_off = -off;          /* POSIX offsets count west of Greenwich */
    r->dst_off = r->std_off;
    r->present = 1;
    if (*p == '\0')
        return 0;
    if (!(p = tzs_name(p)))
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = tzs_hms(p, 24, &off)))
            return -1;
        r->dst_off = -off;
    }
    if (*p == '\0') {
        /* no rule given: the US rules, as glibc assumes */
        r->start = (struct tz_rdate){'M', 0, 3, 2, 0, 7200};
        r->end = (struct tz_rdate){'M', 0, 11, 1, 0, 7200};
        return 0;
    }
    if (*p++ != ',' || !(p = tzs_rdate(p, &r->start)) || *p++ != ',' ||
        !(p = tzs_rdate(p, &r->end)) || *p != '\0')
        return -1;
    return 0;
}

/* days since the epoch of a rule date in year y */
static int64_t rdate_day(const struct tz_rdate *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    if (r->kind == 'N')
        return jan1 + r->n;
    int64_t first = days_from_civil(y, r->m, 1);
    int day = 1 + (r->d - weekday(first) + 7) % 7 + (r->w - 1) * 7;
    while (day > days_in_month(y, r->m))
        day -= 7;
    return first + day - 1;
}

/* The rule's transitions in years y0..y1, sorted; at most 2 per year. */
static size_t rule_transitions(const struct tz_rule *r, int64_t y0, int64_t y1,
                               struct tz_tr *out, size_t cap)
{
    size_t n = 0;
    if (!r->has_dst)
        return 0;
    for (int64_t y = y0; y <= y1 && n + 2 <= cap; y++) {
        /* an end sorts before a start at the same instant, so all-year DST
         * rules ("J365/25" meeting "0/0") stay in DST */
        out[n++] = (struct tz_tr){rdate_day(&r->end, y) * DAY_SECS + r->end.time - r->dst_off,
                                  r->std_off, 0};
        out[n++] = (struct tz_tr){rdate_day(&r->start, y) * DAY_SECS + r->start.time - r->std_off,
                                  r->dst_off, 1};
    }
    for (size_t i = 1; i < n; i++) {        /* insertion sort: n <= 8 */
        struct tz_tr v = out[i];
        size_t j = i;
        while (j > 0 && (out[j - 1].t > v.t || (out[j - 1].t == v.t && out[j - 1].to_dst > v.to_dst))) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = v;
    }
    return n;
}

static int64_t year_of(int64_t secs)
{
    int64_t y;
    int m, d;
    civil_from_days(floor_div(secs, DAY_SECS), &y, &m, &d);
    return y;
}

static int32_t rule_offset_at(const struct tz_rule *r, int64_t t)
{
    struct tz_tr tr[6];
    if (!r->has_dst)
        return r->std_off;
    int64_t y = year_of(t);
    size_t n = rule_transitions(r, y - 1, y + 1, tr, 6);
    int32_t off = r->std_off;
    for (size_t i = 0; i < n && tr[i].t <= t; i++)
        off = tr[i].off;
    return off;
}

/* ---- TZif files ---- */

static int tzif_parse(const unsigned char *buf, size_t len, struct tz_zone *z)
{
    if (len < 44 || memcmp(buf, "TZif", 4) != 0)
        return -1;
    const unsigned char *p = buf, *end = buf + len;
    int version = buf[4];
    size_t tsize = 4;
    uint32_t c[6];

    for (int i = 0; i < 6; i++)
        c[i] = be32(p + 20 + 4 * i);
    if (version >= '2') {
        /* skip the 32-bit block, use the 64-bit one */
        size_t v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
        if (v1 > len - 44 || len - 44 - v1 < 44)
            return -1;
        p += 44 + v1;
        if (memcmp(p, "TZif", 4) != 0)
            return -1;
        for (int i = 0; i < 6; i++)
            c[i] = be32(p + 20 + 4 * i);
        tsize = 8;
    }
    p += 44;
    uint32_t isutcnt = c[0], isstdcnt = c[1], leapcnt = c[2], timecnt = c[3], typecnt = c[4],
             charcnt = c[5];
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || leapcnt > 100000)
        return -1;
    size_t need = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 + charcnt +
                  (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
    if (need > (size_t)(end - p))
        return -1;

    z->ntrans = timecnt;
    z->ntypes = typecnt;
    z->trans = sl_malloc((timecnt ? timecnt : 1) * sizeof *z->trans);
    z->idx = sl_malloc(timecnt ? timecnt : 1);
    z->types = sl_malloc(typecnt * sizeof *z->types);
    if (!z->trans || !z->idx || !z->types)
        return -1;
    for (uint32_t i = 0; i < timecnt; i++) {
        z->trans[i] = tsize == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return -1;
    }
    p += (size_t)timecnt * tsize;
    for (uint32_t i = 0; i < timecnt; i++) {
        if (p[i] >= typecnt)
            return -1;
        z->idx[i] = p[i];
    }
    p += timecnt;
    for (uint32_t i = 0; i < typecnt; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off < -25 * 3600 || off > 26 * 3600)
            return -1;
        z->types[i].utoff = off;
        z->types[i].isdst = p[4] != 0;
    }
    /* abbreviations, leap seconds ("right/" zones: ignored), std/ut indicators */
    p += charcnt + (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;

    if (tsize == 8 && p < end && *p == '\n') {
        const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        if (nl && nl - p - 1 > 0 && nl - p - 1 < 128) {
            char tzs[128];
            memcpy(tzs, p + 1, (size_t)(nl - p - 1));
            tzs[nl - p - 1] = '\0';
            if (tzs_parse(tzs, &z->rule) < 0)
                z->rule.present = 0;    /* fall back to the last transition's type */
        }
    }
    return 0;
}

static int zone_read(const char *name, struct tz_zone *z)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 44 || st.st_size > (1 << 20)) {
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = sl_malloc(len);
    if (!buf) {
        close(fd);
        return -1;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = got == len ? tzif_parse(buf, len, z) : -1;
    sl_free(buf);
    return rc;
}

static void zone_clear(struct tz_zone *z)
{
    sl_free(z->trans);
    sl_free(z->idx);
    sl_free(z->types);
    z->trans = NULL;
    z->idx = NULL;
    z->types = NULL;
    z->ntrans = z->ntypes = 0;
}

/* The zone named `name`, loading it on first use; NULL only when out of
 * memory. A zone that does not exist comes back with ok == 0. */
static const struct tz_zone *zone_get(const char *name)
{
    const struct tz_zone *hit = tl_zone;
    if (hit && strcmp(hit->name, name) == 0)
        return hit;

    pthread_mutex_lock(&zones_mu);
    struct tz_zone *z;
    for (z = zones; z; z = z->next)
        if (strcmp(z->name, name) == 0)
            break;
    if (!z && (z = sl_calloc(1, sizeof *z)) != NULL) {
        if (!(z->name = sl_strdup(name))) {
            sl_free(z);
            z = NULL;
        } else {
            z->ok = zone_name_sane(name) && zone_read(name, z) == 0;
            if (!z->ok)
                zone_clear(z);
            z->next = zones;
            zones = z;
        }
    }
    pthread_mutex_unlock(&zones_mu);
    if (z)
        tl_zone = z;
    return z;
}

/* Transitions in (lo, hi] into out[], and the offset in force at lo. */
static size_t zone_window(const struct tz_zone *z, int64_t lo, int64_t hi, int32_t *off_lo,
                          struct tz_tr *out, size_t cap)
{
    size_t n = 0;
    size_t a = 0, b = z->ntrans;        /* first transition > lo */
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (z->trans[mid] <= lo)
            a = mid + 1;
        else
            b = mid;
    }
    int use_rule = z->rule.present;
    int64_t last = z->ntrans ? z->trans[z->ntrans - 1] : INT64_MIN;

    if (a == z->ntrans && use_rule)
        *off_lo = rule_offset_at(&z->rule, lo);
    else if (a == 0)
        *off_lo = z->types[0].utoff;    /* before the first transition: type 0 (RFC 8536) */
    else
        *off_lo = z->types[z->idx[a - 1]].utoff;

    for (size_t i = a; i < z->ntrans && z->trans[i] <= hi && n < cap; i++)
        out[n++] = (struct tz_tr){z->trans[i], z->types[z->idx[i]].utoff,
                                  z->types[z->idx[i]].isdst};

    if (use_rule && hi > last) {
        struct tz_tr tr[8];
        int64_t from = lo > last ? lo : last;
        size_t m = rule_transitions(&z->rule, year_of(from) - 1, year_of(hi) + 1, tr, 8);
        for (size_t i = 0; i < m && n < cap; i++)
            if (tr[i].t > from && tr[i].t <= hi)
                out[n++] = tr[i];
    }
    return n;
}

int sl_tz_valid(const char *zone)
{
    if (!zone)
        return 0;
    if (zone_is_utc(zone))
        return 1;
    if (!zone_name_sane(zone))
        return 0;
    const struct tz_zone *z = zone_get(zone);
    return z && z->ok;
}

int sl_tz_local_to_utc(const char *zone, int year, int mon, int day, int hour,
                       int min, int sec, enum sl_dst_policy overlap,
                       int64_t *utc_seconds, char *why, size_t whylen)
{
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59) {
        set_why(why, whylen, "invalid local time");
        return -1;
    }
    int64_t local = days_from_civil(year, mon, day) * DAY_SECS + hour * 3600 + min * 60 + sec;
    if (zone_is_utc(zone)) {
        *utc_seconds = local;
        return 0;
    }
    const struct tz_zone *z = zone_get(zone);
    if (!z) {
        set_why(why, whylen, "out of memory loading time zone \"%s\"", zone);
        return -1;
    }
    if (!z->ok) {
        set_why(why, whylen, "unknown time zone \"%s\"", zone);
        return -1;
    }

    /* Every instant t with t + offset(t) == local lies within two days of
     * `local` (offsets stay within +-26h). Walk the offset intervals of that
     * window: in each, t = local - offset is a solution when it falls inside. */
    struct tz_tr tr[32];
    int32_t off;
    int64_t lo = local - 2 * DAY_SECS, hi = local + 2 * DAY_SECS;
    size_t n = zone_window(z, lo, hi, &off, tr, 32);
    int64_t first = 0, second = 0;
    int found = 0;
    int64_t start = lo;
    for (size_t k = 0; k <= n; k++) {
        int64_t stop = k < n ? tr[k].t : hi + 1;
        int64_t t = local - off;
        if (t >= start && t < stop) {
            if (found == 0)
                first = t;
            else
                second = t;     /* intervals ascend: the later instant */
            found++;
        }
        if (k < n) {
            start = stop;
            off = tr[k].off;
        }
    }

    if (found == 1 || (found >= 2 && overlap != SL_DST_FAIL)) {
        *utc_seconds = found == 1 || overlap == SL_DST_EARLIER ? first : second;
        return 0;
    }
    if (found == 0)
        set_why(why, whylen, "no such local time %04d-%02d-%02d %02d:%02d:%02d in %s (DST gap)",
                year, mon, day, hour, min, sec, zone);
    else
        set_why(why, whylen,
                "ambiguous local time %04d-%02d-%02d %02d:%02d:%02d in %s (DST overlap): "
                "set the timestamps policy", year, mon, day, hour, min, sec, zone);
    return -1;
}

/* ---- parsing ---- */

static int dig2(const char *p)
{
    unsigned a = (unsigned char)p[0] - '0', b = (unsigned char)p[1] - '0';
    return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int sl_time_parse(const char *s, size_t n, const struct sl_valctx *ctx,
                  sl_usec *out, char *why, size_t whylen)
{
    int y1, y2, mo, d, h = 0, mi = 0, se = 0, us = 0;
    int has_zone = 0;
    int32_t zoff = 0;

    if (n < 10 || s[4] != '-' || s[7] != '-' || (y1 = dig2(s)) < 0 || (y2 = dig2(s + 2)) < 0 ||
        (mo = dig2(s + 5)) < 0 || (d = dig2(s + 8)) < 0)
        goto bad;
    int y = y1 * 100 + y2;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        set_why(why, whylen, "invalid date");
        return -1;
    }
    size_t i = 10;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            goto bad;
        i++;
        if (n - i < 5 || (h = dig2(s + i)) < 0 || s[i + 2] != ':' || (mi = dig2(s + i + 3)) < 0)
            goto bad;
        i += 5;
        if (i < n && s[i] == ':') {
            if (n - i < 3 || (se = dig2(s + i + 1)) < 0)
                goto bad;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                size_t f0 = ++i;
                int scale = 100000;
                while (i < n && (unsigned)((unsigned char)s[i] - '0') <= 9) {
                    us += (s[i] - '0') * scale;     /* digits past the 6th: truncated */
                    scale /= 10;
                    i++;
                }
                if (i == f0)
                    goto bad;
                if (i - f0 > 9) {
                    set_why(why, whylen, "more than 9 fraction digits");
                    return -1;
                }
            }
        }
        if (h > 23) {
            set_why(why, whylen, "hour out of range");
            return -1;
        }
        if (mi > 59) {
            set_why(why, whylen, "minute out of range");
            return -1;
        }
        if (se == 60) {
            set_why(why, whylen, "leap second not supported");
            return -1;
        }
        if (se > 59) {
            set_why(why, whylen, "second out of range");
            return -1;
        }
        if (i < n) {
            if (s[i] == ' ' && i + 1 < n)
                i++;
            char c = s[i];
            if ((c == 'Z' || c == 'z') && i + 1 == n) {
                has_zone = 1;
            } else if (n - i == 3 && ((lower(c) == 'u' && lower(s[i + 1]) == 't' && lower(s[i + 2]) == 'c') ||
                                      (lower(c) == 'g' && lower(s[i + 1]) == 'm' && lower(s[i + 2]) == 't'))) {
                has_zone = 1;
            } else if (c == '+' || c == '-') {
                int oh, om = 0;
                size_t r = n - i - 1;
                const char *z = s + i + 1;
                if (r < 2 || (oh = dig2(z)) < 0)
                    goto bad;
                if (r == 4)
                    om = dig2(z + 2);
                else if (r == 5 && z[2] == ':')
                    om = dig2(z + 3);
                else if (r != 2)
                    goto bad;
                if (om < 0)
                    goto bad;
                if (oh > 18 || om > 59) {
                    set_why(why, whylen, "time zone offset out of range");
                    return -1;
                }
                zoff = (oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
                has_zone = 1;
            } else {
                goto bad;
            }
        }
    }

    int64_t secs;
    const char *zone = ctx ? ctx->timezone : NULL;
    if (has_zone || zone_is_utc(zone)) {
        secs = days_from_civil(y, mo, d) * DAY_SECS + h * 3600 + mi * 60 + se - zoff;
    } else if (sl_tz_local_to_utc(zone, y, mo, d, h, mi, se, ctx->overlap, &secs, why, whylen) < 0) {
        return -1;
    }
    if (secs < MIN_SECS || secs >= END_SECS) {
        set_why(why, whylen, "timestamp out of range");
        return -1;
    }
    *out = secs * 1000000 + us;
    return 0;

bad:
    set_why(why, whylen, "not a timestamp");
    return -1;
}

/* ---- durations ---- */

int sl_duration_parse(const char *s, double *out)
{
    /* units in the only order they may appear, largest first */
    static const struct { const char *name; double secs; } units[] = {
        {"d", 86400}, {"h", 3600}, {"ms", 0.001}, {"m", 60}, {"s", 1},
    };
    static const int rank[] = {0, 1, 4, 2, 3};  /* d h ms m s -> size order */
    double total = 0;
    int last_rank = -1;
    const char *p = s;

    if (!s || !*s)
        return -1;
    while (*p) {
        double v = 0, scale = 0;
        int nd = 0;
        while ((*p >= '0' && *p <= '9') || (*p == '.' && scale == 0)) {
            if (*p == '.') {
                scale = 0.1;
            } else if (scale > 0) {
                v += (*p - '0') * scale;
                scale /= 10;
                nd++;
            } else {
                v = v * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0 || p[-1] == '.')
            return -1;
        if (*p == '\0') {
            if (p == s + strspn(s, "0123456789.")) {  /* bare number: seconds */
                total = v;
                break;
            }
            return -1;
        }
        size_t u;
        for (u = 0; u < sizeof units / sizeof units[0]; u++) {
            size_t ul = strlen(units[u].name);
            if (strncmp(p, units[u].name, ul) == 0)    /* "ms" is tried before "m" */
                break;
        }
        if (u == sizeof units / sizeof units[0] || rank[u] <= last_rank)
            return -1;
        last_rank = rank[u];
        total += v * units[u].secs;
        p += strlen(units[u].name);
    }
    if (!(total >= 0 && total < 1e15))
        return -1;
    *out = total;
    return 0;
}

/* ---- dates as logs write them ---- */

static int is_digit_c(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha_c(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *const month_names[12] = {
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
};

int sl_month_abbr(const char *s)
{
    for (int m = 0; m < 12; m++)
        if (lower(s[0]) == month_names[m][0] && lower(s[1]) == month_names[m][1] &&
            lower(s[2]) == month_names[m][2])
            return m + 1;
    return 0;
}

/* log4j's named date formats */
static const struct { const char *name, *pattern; } named_dates[] = {
    {"ISO8601", "yyyy-MM-dd'T'HH:mm:ss,SSS"},      /* T or space, , or . (lenient) */
    {"ISO8601_BASIC", "yyyyMMdd'T'HHmmss,SSS"},
    {"ISO8601_OFFSET_DATE_TIME_HHMM", "yyyy-MM-dd'T'HH:mm:ss,SSSXX"},
    {"ISO8601_OFFSET_DATE_TIME_HHCMM", "yyyy-MM-dd'T'HH:mm:ss,SSSXXX"},
    {"DEFAULT", "yyyy-MM-dd HH:mm:ss,SSS"},
    {"ABSOLUTE", "HH:mm:ss,SSS"},
    {"DATE", "dd MMM yyyy HH:mm:ss,SSS"},
    {"COMPACT", "yyyyMMddHHmmssSSS"},
};

static int numeric_kind(char k)
{
    return strchr("yMdHhkmsS", k) != NULL;
}

int sl_datepat_compile(const char *pattern, struct sl_datepat *out, char *why, size_t whylen)
{
    const char *p = pattern;
    int lenient = 0;

    memset(out, 0, sizeof *out);
    if (strcmp(p, "UNIX") == 0 || strcmp(p, "UNIX_MILLIS") == 0) {
        out->tok[0] = (struct sl_datepat_tok){p[4] ? 'u' : 'U', 1, 0, 0};
        out->ntok = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof named_dates / sizeof named_dates[0]; i++)
        if (strcmp(p, named_dates[i].name) == 0) {
            p = named_dates[i].pattern;
            lenient = strncmp(named_dates[i].name, "ISO8601", 7) == 0 &&
                      !named_dates[i].name[7];
            break;
        }
    while (*p) {
        struct sl_datepat_tok t = {0, 1, 0, 0};
        if (out->ntok == SL_DATEPAT_MAX) {
            set_why(why, whylen, "date pattern \"%s\" is too long", pattern);
            return -1;
        }
        if (*p == '\'') {
            if (p[1] == '\'') {             /* '' is a quote */
                t = (struct sl_datepat_tok){'\'', 1, '\'', 0};
                p += 2;
            } else {
                /* quoted text, '' in it a quote */
                const char *c = p + 1;
                for (;;) {
                    if (!*c) {
                        set_why(why, whylen, "date pattern \"%s\": unterminated quote", pattern);
                        return -1;
                    }
                    if (*c == '\'' && c[1] != '\'')
                        break;
                    if (out->ntok == SL_DATEPAT_MAX) {
                        set_why(why, whylen, "date pattern \"%s\" is too long", pattern);
                        return -1;
                    }
                    char k = lenient && *c == 'T' ? 'T' : *c == ' ' ? ' ' : '\'';
                    out->tok[out->ntok++] = (struct sl_datepat_tok){k, 1, *c, 0};
                    c += *c == '\'' ? 2 : 1;
                }
                p = c + 1;
                continue;
            }
        } else if (is_alpha_c(*p)) {
            char k = *p;
            unsigned n = 0;
            while (*p == k && n < 20) {
                n++;
                p++;
            }
            if (!strchr("yuMLdHhkmsSaEZXxz", k)) {
                set_why(why, whylen, "date pattern \"%s\": letter '%c' is not supported", pattern, k);
                return -1;
            }
            if (k == 'u')
                k = 'y';            /* DateTimeFormatter's year */
            if (k == 'L')
                k = 'M';
            if (k == 'x')
                k = 'X';
            if ((k == 'S' && n > 9) || (k != 'S' && k != 'M' && k != 'E' && k != 'y' &&
                                        k != 'X' && k != 'Z' && k != 'z' && n > 2)) {
                set_why(why, whylen, "date pattern \"%s\": '%c' repeated %u times", pattern,
                        k, n);
                return -1;
            }
            t = (struct sl_datepat_tok){k, (unsigned char)n, 0, 0};
        } else if (*p == ' ') {
            while (*p == ' ')
                p++;
            t = (struct sl_datepat_tok){' ', 1, ' ', 0};
        } else {
            char k = lenient && (*p == ',' || *p == '.') ? 'F' : '\'';
            t = (struct sl_datepat_tok){k, 1, *p, 0};
            p++;
        }
        out->tok[out->ntok++] = t;
    }
    for (size_t i = 0; i + 1 < out->ntok; i++) {
        struct sl_datepat_tok *t = &out->tok[i];
        if (numeric_kind(t->kind) && !(t->kind == 'M' && t->n >= 3) &&
            numeric_kind(out->tok[i + 1].kind) && !(out->tok[i + 1].kind == 'M' && out->tok[i + 1].n >= 3))
            t->fixed = 1;
    }
    if (out->ntok == 0) {
        set_why(why, whylen, "empty date pattern");
        return -1;
    }
    return 0;
}

/* Digits at s[*i..n): at least 1, at most max; -1 when none. */
static long take_digits(const char *s, size_t n, size_t *i, unsigned min, unsigned max,
                        unsigned *ndig)
{
    long v = 0;
    unsigned k = 0;
    while (*i < n && k < max && is_digit_c(s[*i])) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    if (k < min)
        return -1;
    if (ndig)
        *ndig = k;
    return v;
}

/* [+-]HH[[:]MM] or Z: 0 with *off, -1 when not there. */
static int take_offset(const char *s, size_t n, size_t *i, int32_t *off)
{
    if (*i < n && (s[*i] == 'Z' || s[*i] == 'z')) {
        (*i)++;
        *off = 0;
        return 0;
    }
    if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
        return -1;
    int neg = s[*i] == '-';
    size_t j = *i + 1;
    long h = take_digits(s, n, &j, 2, 2, NULL), m = 0;
    if (h < 0 || h > 18)
        return -1;
    if (j < n && s[j] == ':' && j + 1 < n && is_digit_c(s[j + 1]))
        j++;
    if (j + 1 < n + 1 && j < n && is_digit_c(s[j])) {
        m = take_digits(s, n, &j, 2, 2, NULL);
        if (m < 0 || m > 59)
            return -1;
    }
    *off = (int32_t)((h * 3600 + m * 60) * (neg ? -1 : 1));
    *i = j;
    return 0;
}

long sl_datepat_match(const struct sl_datepat *p, const char *s, size_t n, struct sl_civil *out)
{
    size_t i = 0;
    int pm = -1, hour12 = 0;
    memset(out, 0, sizeof *out);
    out->year = 1970;
    out->mon = 1;
    out->day = 1;
    for (size_t k = 0; k < p->ntok; k++) {
        const struct sl_datepat_tok *t = &p->tok[k];
        unsigned nd = 0;
        long v;
        switch (t->kind) {
        case '\'':
            if (i >= n || s[i] != t->ch)
                return -1;
            i++;
            break;
        case ' ':
            if (i >= n || s[i] != ' ')
                return -1;
            while (i < n && s[i] == ' ')
                i++;
            break;
        case 'T':
            if (i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
                return -1;
            i++;
            break;
        case 'F':
            if (i >= n || (s[i] != ',' && s[i] != '.'))
                return -1;
            i++;
            break;
        case 'y':
            if (t->n == 2) {
                if ((v = take_digits(s, n, &i, 2, 2, NULL)) < 0)
                    return -1;
                v += v < 70 ? 2000 : 1900;
            } else if ((v = take_digits(s, n, &i, t->fixed ? t->n : 1, t->fixed ? t->n : 4,
                                        NULL)) < 0 || v < 1) {
                return -1;
            }
            out->year = (int)v;
            out->has_year = 1;
            out->has_date = 1;
            break;
        case 'M':
            if (t->n >= 3) {
                if (n - i < 3 || !(v = sl_month_abbr(s + i)))
                    return -1;
                size_t len = strlen(month_names[v - 1]), j = 3;
                /* the full name, or its first three letters */
                while (j < len && i + j < n && lower(s[i + j]) == month_names[v - 1][j])
                    j++;
                if (j != len && i + 3 < n && is_alpha_c(s[i + 3]) && j == 3 && t->n == 3)
                    return -1;
                i += j == len ? len : 3;
            } else if ((v = take_digits(s, n, &i, t->fixed ? t->n : 1, t->fixed ? t->n : 2,
                                        NULL)) < 1 || v > 12) {
                return -1;
            }
            out->mon = (int)v;
            out->has_date = 1;
            break;
        case 'd':
        case 'H':
        case 'h':
        case 'k':
        case 'm':
        case 's':
            if ((v = take_digits(s, n, &i, t->fixed ? t->n : 1, t->fixed ? t->n : 2, NULL)) < 0)
                return -1;
            if (t->kind == 'd') {
                if (v < 1 || v > 31)
                    return -1;
                out->day = (int)v;
                out->has_date = 1;
            } else if (t->kind == 'H' || t->kind == 'k') {
                if (v > 24 || (t->kind == 'H' && v > 23))
                    return -1;
                out->hour = v == 24 ? 0 : (int)v;
            } else if (t->kind == 'h') {
                if (v < 1 || v > 12)
                    return -1;
                out->hour = (int)v;
                hour12 = 1;
            } else if (t->kind == 'm') {
                if (v > 59)
                    return -1;
                out->min = (int)v;
            } else {
                if (v > 59)
                    return -1;
                out->sec = (int)v;
            }
            break;
        case 'S': {
            /* SSS is as many digits, as log4j and logback write them */
            unsigned want = t->fixed || t->n > 1 ? t->n : 0;
            if ((v = take_digits(s, n, &i, want ? want : 1, want ? want : 9, &nd)) < 0)
                return -1;
            while (nd > 6) {
                v /= 10;
                nd--;
            }
            while (nd < 6) {
                v *= 10;
                nd++;
            }
            out->usec = (int)v;
            break;
        }
        case 'a':
            if (n - i < 2 || (lower(s[i + 1]) != 'm') ||
                (lower(s[i]) != 'a' && lower(s[i]) != 'p'))
                return -1;
            pm = lower(s[i]) == 'p';
            i += 2;
            break;
        case 'E': {
            size_t j = i;
            while (j < n && is_alpha_c(s[j]))
                j++;
            if (j - i < 3)
                return -1;
            i = j;
            break;
        }
        case 'Z':
        case 'X':
            if (take_offset(s, n, &i, &out->offset) < 0)
                return -1;
            out->has_zone = 1;
            break;
        case 'z':
            if (n - i >= 3 && ((lower(s[i]) == 'u' && lower(s[i + 1]) == 't' && lower(s[i + 2]) == 'c') ||
                               (lower(s[i]) == 'g' && lower(s[i + 1]) == 'm' && lower(s[i + 2]) == 't'))) {
                i += 3;
            } else if (i < n && s[i] == 'Z') {
                i++;
            } else if (take_offset(s, n, &i, &out->offset) < 0) {
                return -1;
            }
            out->has_zone = 1;
            break;
        case 'U':
        case 'u': {
            int64_t e = 0;
            size_t j = i;
            while (j < n && is_digit_c(s[j]) && j - i < 16)
                e = e * 10 + (s[j++] - '0');
            if (j == i)
                return -1;
            i = j;
            out->is_epoch = 1;
            out->epoch_us = t->kind == 'U' ? e * 1000000 : e * 1000;
            out->has_zone = out->has_year = out->has_date = 1;
            break;
        }
        default:
            return -1;
        }
    }
    if (hour12)
        out->hour = out->hour % 12 + (pm == 1 ? 12 : 0);
    else if (pm == 1 && out->hour < 12)
        out->hour += 12;
    return i > 0 ? (long)i : -1;
}

int sl_datepat_regex(const struct sl_datepat *p, struct sl_buf *out)
{
    for (size_t k = 0; k < p->ntok; k++) {
        const struct sl_datepat_tok *t = &p->tok[k];
        switch (t->kind) {
        case '\'':
            if (is_alpha_c(t->ch) || is_digit_c(t->ch) || (unsigned char)t->ch >= 0x80)
                sl_buf_putc(out, t->ch);
            else
                sl_buf_printf(out, "\\x{%x}", (unsigned char)t->ch);
            break;
        case ' ': sl_buf_puts(out, " +"); break;
        case 'T': sl_buf_puts(out, "[Tt ]"); break;
        case 'F': sl_buf_puts(out, "[.,]"); break;
        case 'y':
            if (t->n == 2)
                sl_buf_puts(out, "\\d{2}");
            else if (t->fixed)
                sl_buf_printf(out, "\\d{%u}", t->n);
            else
                sl_buf_puts(out, "\\d{1,4}");
            break;
        case 'M':
            if (t->n >= 3) {
                sl_buf_puts(out, "[A-Za-z]{3,9}");
                break;
            }
            /* fall through */
        case 'd': case 'H': case 'h': case 'k': case 'm': case 's':
            if (t->fixed)
                sl_buf_printf(out, "\\d{%u}", t->n);
            else
                sl_buf_puts(out, "\\d{1,2}");
            break;
        case 'S':
            if (t->fixed || t->n > 1)
                sl_buf_printf(out, "\\d{%u}", t->n);
            else
                sl_buf_puts(out, "\\d{1,9}");
            break;
        case 'a': sl_buf_puts(out, "[AaPp][Mm]"); break;
        case 'E': sl_buf_puts(out, "[A-Za-z]{3,9}"); break;
        case 'Z': case 'X': sl_buf_puts(out, "(?:[Zz]|[+-]\\d\\d(?::?\\d\\d)?)"); break;
        case 'z': sl_buf_puts(out, "(?:[Uu][Tt][Cc]|[Gg][Mm][Tt]|Z|[+-]\\d\\d(?::?\\d\\d)?)"); break;
        case 'U': case 'u': sl_buf_puts(out, "\\d{1,16}"); break;
        }
    }
    return out->oom ? -1 : 0;
}

/* The wall time of instant t in zone (NULL = UTC), as days and seconds of
 * the day; -1 when the zone cannot be had. */
static int local_of(const char *zone, int64_t t, int64_t *days, int64_t *sod)
{
    int32_t off = 0;
    if (!zone_is_utc(zone)) {
        const struct tz_zone *z = zone_get(zone);
        struct tz_tr none[1];
        if (!z || !z->ok)
            return -1;
        zone_window(z, t, t, &off, none, 0);
    }
    int64_t l = t + off;
    *days = floor_div(l, DAY_SECS);
    *sod = l - *days * DAY_SECS;
    return 0;
}

/* Local civil time -> UTC seconds, with the overlap read by the order of
 * the log (see sl_civil_to_utc). */
static int local_instant(const char *zone, int y, int mo, int d, int h, int mi, int se,
                         int64_t prev_s, int has_prev, int64_t *out, char *why, size_t whylen)
{
    int64_t a, b;
    if (zone_is_utc(zone))
        return sl_tz_local_to_utc(NULL, y, mo, d, h, mi, se, SL_DST_EARLIER, out, why, whylen);
    if (sl_tz_local_to_utc(zone, y, mo, d, h, mi, se, SL_DST_EARLIER, &a, why, whylen) < 0 ||
        sl_tz_local_to_utc(zone, y, mo, d, h, mi, se, SL_DST_LATER, &b, why, whylen) < 0)
        return -1;
    if (a == b) {
        *out = a;
        return 0;
    }
    if (!has_prev) {
        set_why(why, whylen, "ambiguous local time %04d-%02d-%02d %02d:%02d:%02d in %s (DST"
                " overlap), and no record before it in the file tells which", y, mo, d, h, mi,
                se, zone);
        return -1;
    }
    *out = a >= prev_s - 60 ? a : b;
    return 0;
}

int sl_civil_to_utc(const struct sl_civil *c, const char *zone, int64_t ref, sl_usec prev,
                    int has_prev, sl_usec *out, char *why, size_t whylen)
{
    int y = c->year, mo = c->mon, d = c->day;
    int64_t secs, prev_s = floor_div(prev, 1000000);

    if (c->is_epoch) {
        if (c->epoch_us / 1000000 < MIN_SECS || c->epoch_us / 1000000 >= END_SECS) {
            set_why(why, whylen, "timestamp out of range");
            return -1;
        }
        *out = c->epoch_us;
        return 0;
    }
    if (!c->has_year || !c->has_date) {
        int64_t days, sod, ry;
        int rm, rd;
        if (local_of(c->has_zone ? NULL : zone, ref + (c->has_zone ? c->offset : 0), &days,
                     &sod) < 0) {
            set_why(why, whylen, "unknown time zone \"%s\"", zone);
            return -1;
        }
        civil_from_days(days, &ry, &rm, &rd);
        int64_t tod = (int64_t)c->hour * 3600 + c->min * 60 + c->sec;
        if (!c->has_date) {
            /* on ref's date; a time of day after ref's is the day before */
            if (tod > sod + 60)
                civil_from_days(days - 1, &ry, &rm, &rd);
            y = (int)ry;
            mo = rm;
            d = rd;
        } else {
            /* ref's year; more than a day after ref is last year's */
            int64_t cand = days_from_civil(ry, mo, d <= days_in_month(ry, mo) ? d : 1);
            y = (int)ry;
            if (cand * DAY_SECS + tod > days * DAY_SECS + sod + DAY_SECS)
                y--;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        set_why(why, whylen, "invalid date %04d-%02d-%02d", y, mo, d);
        return -1;
    }
    if (c->has_zone)
        secs = days_from_civil(y, mo, d) * DAY_SECS + c->hour * 3600 + c->min * 60 + c->sec -
               c->offset;
    else if (local_instant(zone, y, mo, d, c->hour, c->min, c->sec, prev_s, has_prev, &secs,
                           why, whylen) < 0)
        return -1;
    if (secs < MIN_SECS || secs >= END_SECS) {
        set_why(why, whylen, "timestamp out of range");
        return -1;
    }
    *out = secs * 1000000 + c->usec;
    return 0;
}
