/* base/mem.h: allocation and growable buffers.
 *
 * All allocation goes through sl_malloc and friends so a test build can make
 * the N-th allocation fail (SLUICE_FAIL_ALLOC_AT=N) and error paths run too.
 * Rows stream through buffers reused row after row (sl_buf), so there is no
 * per-batch arena. sl_buf is a length-tracking
 * byte buffer used wherever text is assembled (no sprintf into fixed arrays). */
#ifndef SL_MEM_H
#define SL_MEM_H

#include <stddef.h>
#include <stdarg.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t n, size_t size);
void *sl_realloc(void *p, size_t n);
void sl_free(void *p);
char *sl_strdup(const char *s);
char *sl_strndup(const char *s, size_t n);

/* Test hook: make allocation number n (1-based, counted from now) fail.
 * 0 disables. Also read once from SLUICE_FAIL_ALLOC_AT. */
void sl_mem_fail_at(long n);

struct sl_buf {
    char *data;     /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
    int oom;        /* set once an append failed; later appends are no-ops */
};

void sl_buf_init(struct sl_buf *b);
void sl_buf_free(struct sl_buf *b);
void sl_buf_reset(struct sl_buf *b);
int sl_buf_reserve(struct sl_buf *b, size_t extra);
int sl_buf_append(struct sl_buf *b, const void *p, size_t n);
int sl_buf_putc(struct sl_buf *b, char c);
int sl_buf_puts(struct sl_buf *b, const char *s);
int sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sl_buf_vprintf(struct sl_buf *b, const char *fmt, va_list ap);
/* Hand the bytes to the caller (who frees with sl_free); buffer is emptied. */
char *sl_buf_steal(struct sl_buf *b);

#endif
