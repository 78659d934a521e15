/* base/stream.h: a byte stream over a drop file, decompressing on the fly.
 *
 * gzip (including concatenated members) and zstd are recognised by their
 * magic bytes, not by the file name, and read as streams: memory stays at a
 * few fixed buffers whatever the file size (docs/invariants.md #4). Streams over memory
 * exist for tests and fuzzers; their chunk size makes every read return at
 * most that many bytes, so parsers meet every buffer split. */
#ifndef SL_STREAM_H
#define SL_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

enum sl_codec { SL_CODEC_NONE = 0, SL_CODEC_GZIP, SL_CODEC_ZSTD };

struct sl_stream;

/* Open `path`; `display` names it in errors (e.g. relative to the config). */
int sl_stream_open(struct sl_stream **out, const char *path, const char *display,
                   struct sl_err *err);
/* Over a file the caller opened for reading; takes ownership of `fd` (closed
 * by sl_stream_close, or here on failure). */
int sl_stream_open_fd(struct sl_stream **out, int fd, const char *display, struct sl_err *err);
/* Over caller-owned memory (not copied; must outlive the stream). chunk 0 =
 * no limit per read. Compressed data is detected here too. */
int sl_stream_open_mem(struct sl_stream **out, const char *display,
                       const void *data, size_t n, size_t chunk, struct sl_err *err);

/* Read up to cap decompressed bytes. Returns bytes read, 0 at end, -1 on
 * error (corrupt or truncated compressed data, I/O error). */
ssize_t sl_stream_read(struct sl_stream *s, char *buf, size_t cap, struct sl_err *err);

const char *sl_stream_name(const struct sl_stream *s);
enum sl_codec sl_stream_codec(const struct sl_stream *s);
uint64_t sl_stream_raw_bytes(const struct sl_stream *s);   /* compressed bytes consumed */
void sl_stream_close(struct sl_stream *s);

#endif
