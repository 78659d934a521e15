/* base/redact.c: see redact.h. */
#include "base/redact.h"

#include <pthread.h>
#include <string.h>

#include "base/mem.h"
#include "base/value.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t *secret_len;
static size_t nsecrets, capsecrets;


static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Length of "password" at s[i] (any case; each letter may be percent-encoded,
 * as libpq decodes URI query keywords), else 0. */
static size_t password_key(const char *s, size_t n, size_t i)
{
    static const char word[] = "password";
    size_t j = i;
    for (const char *w = word; *w; w++) {
        if (j < n && lower((unsigned char)s[j]) == *w) {
            j++;
        } else if (j + 2 < n && s[j] == '%' && sl_hex_digit(s[j + 1]) >= 0 && sl_hex_digit(s[j + 2]) >= 0 &&
                   lower(sl_hex_digit(s[j + 1]) * 16 + sl_hex_digit(s[j + 2])) == *w) {
            j += 3;
        } else {
            return 0;
        }
    }
    return j - i;
}

/* A password at s[i]: the start of a URL's "://" with user:password@ after
 * it, or a password-like key followed by = and a value. Sets the secret's
 * span [*start, *end) (start >= i), *quoted when it sat in '...' (libpq
 * key=value quoting), and *resume to where scanning goes on. */
static int password_at(const char *s, size_t n, size_t i, size_t *start, size_t *end,
                       int *quoted, size_t *resume)
{
    *quoted = 0;
    if (s[i] == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') {
        /* user info ends at the last '@' before the query: a '/' or an '@'
         * inside it is a password libpq will misread, still a password */
        size_t colon = 0, at = 0, k;
        for (k = i + 3; k < n && !is_space(s[k]) && s[k] != '"' && s[k] != '\'' &&
                        s[k] != '?' && s[k] != '#'; k++) {
            if (s[k] == ':' && !colon && !at)
                colon = k;
            if (s[k] == '@')
                at = k;
        }
        if (at && colon && colon + 1 < at) {
            *start = colon + 1;
            *end = at;
            *resume = at;
            return 1;
        }
        return 0;
    }
    size_t kl = password_key(s, n, i);
    if (!kl)
        return 0;
    size_t k = i + kl;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k >= n || s[k] != '=')
        return 0;
    k++;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k < n && s[k] == '\'') {
        size_t v = ++k;
        while (k < n && s[k] != '\'')
            k += (s[k] == '\\' && k + 1 < n) ? 2 : 1;
        if (k == v)
            return 0;
        *quoted = 1;
        *start = v;
        *end = k > n ? n : k;
        *resume = *end;
        return 1;
    }
    /* a '"' right before the end, a space or punctuation closes a quoted
     * message around the URL; elsewhere it is part of the password */
    size_t v = k;
    while (k < n && !is_space(s[k]) && s[k] != '&' && s[k] != '#' &&
           !(s[k] == '"' && (k + 1 == n || is_space(s[k + 1]) || strchr(",;:)]}", s[k + 1]))))
        k++;
    if (k == v)
        return 0;
    *start = v;
    *end = k;
    *resume = k;
    return 1;
}

static void put(char *out, size_t cap, size_t *o, const char *p, size_t len)
{
    if (*o + 1 >= cap)
        return;
    if (len > cap - 1 - *o)
        len = cap - 1 - *o;
    memcpy(out + *o, p, len);
    *o += len;
}

void sl_redact(const char *in, char *out, size_t cap)
{
    size_t n, o = 0, i = 0, copied = 0;

    if (!cap)
        return;
    if (!in)
        in = "";
    n = strlen(in);
    pthread_mutex_lock(&reg_mu);
    while (i < n) {
        size_t start, end, resume, best = 0;
        int quoted;
        if (password_at(in, n, i, &start, &end, &quoted, &resume)) {
            put(out, cap, &o, in + copied, start - copied);
            put(out, cap, &o, "***", 3);
            i = copied = resume;
            continue;
        }
        for (size_t k = 0; k < nsecrets; k++)
            if (secret_len[k] > best && secret_len[k] <= n - i && in[i] == secrets[k][0] &&
                memcmp(in + i, secrets[k], secret_len[k]) == 0)
                best = secret_len[k];
        if (best) {
            put(out, cap, &o, in + copied, i - copied);
            put(out, cap, &o, "***", 3);
            i = copied = i + best;
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&reg_mu);
    put(out, cap, &o, in + copied, n - copied);
    out[o] = '\0';
}

/* under reg_mu */
static int add_locked(const char *s, size_t len)
{
    if (len < SL_REDACT_MIN_SECRET)
        return 0;
    for (size_t k = 0; k < nsecrets; k++)
        if (secret_len[k] == len && memcmp(secrets[k], s, len) == 0)
            return 0;
    if (nsecrets == capsecrets) {
        size_t nc = capsecrets ? capsecrets * 2 : 8;
        char **ns = sl_realloc(secrets, nc * sizeof *ns);
        if (!ns)
            return -1;
        secrets = ns;
        size_t *nl = sl_realloc(secret_len, nc * sizeof *nl);
        if (!nl)
            return -1;
        secret_len = nl;
        capsecrets = nc;
    }
    char *copy = sl_strndup(s, len);
    if (!copy)
        return -1;
    secrets[nsecrets] = copy;
    secret_len[nsecrets++] = len;
    return 0;
}

int sl_redact_add(const char *secret)
{
    if (!secret)
        return 0;
    pthread_mutex_lock(&reg_mu);
    int rc = add_locked(secret, strlen(secret));
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

int sl_redact_add_conninfo(const char *conninfo)
{
    size_t n = conninfo ? strlen(conninfo) : 0;
    int rc = 0;
    char *plain = sl_malloc(n + 1);

    if (!plain)
        return -1;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < n && rc == 0;) {
        size_t start, end, resume, len = 0;
        int quoted;
        if (!password_at(conninfo, n, i, &start, &end, &quoted, &resume)) {
            i++;
            continue;
        }
        rc = add_locked(conninfo + start, end - start);
        /* and as libpq reads it: '...' unescaped, else percent-decoded */
        for (size_t k = start; k < end; k++) {
            if (quoted && conninfo[k] == '\\' && k + 1 < end) {
                plain[len++] = conninfo[++k];
            } else if (!quoted && conninfo[k] == '%' && k + 2 < end &&
                       sl_hex_digit(conninfo[k + 1]) >= 0 && sl_hex_digit(conninfo[k + 2]) >= 0) {
                plain[len++] = (char)(sl_hex_digit(conninfo[k + 1]) * 16 + sl_hex_digit(conninfo[k + 2]));
                k += 2;
            } else {
                plain[len++] = conninfo[k];
            }
        }
        if (rc == 0 && memchr(plain, '\0', len) == NULL)
            rc = add_locked(plain, len);
        i = resume;
    }
    pthread_mutex_unlock(&reg_mu);
    sl_free(plain);
    return rc;
}

void sl_redact_forget(void)
{
    pthread_mutex_lock(&reg_mu);
    for (size_t k = 0; k < nsecrets; k++)
        sl_free(secrets[k]);
    sl_free(secrets);
    sl_free(secret_len);
    secrets = NULL;
    secret_len = NULL;
    nsecrets = capsecrets = 0;
    pthread_mutex_unlock(&reg_mu);
}
