/* sources/jetstream.h: NATS JetStream, the one place libnats is used.
 *
 * The jetstream source (jetstream.c) consumes a stream with a durable pull
 * consumer and acks each message after the batch holding it committed; the
 * http collector (http.c) can publish to a stream instead of loading, and
 * answers its client after JetStream's publish ack. Both make the stream
 * when it is missing (subjects [subject], `replicas` copies). */
#ifndef SL_JETSTREAM_H
#define SL_JETSTREAM_H

#include <stddef.h>

#include "model/config.h"
#include "base/err.h"

struct sl_js;

/* Connect to any of `servers` ("nats://host:port"), reconnecting for ever
 * when the connection drops; `name` names the connection on the server.
 * Connection failures are SL_RETRY. */
int sl_js_open(const struct sl_strlist *servers, const char *name, struct sl_js **out,
               struct sl_err *err);
void sl_js_close(struct sl_js *js);
/* Make stream `stream` (subjects [subject]) when it does not exist. */
int sl_js_ensure_stream(struct sl_js *js, const char *stream, const char *subject,
                        long replicas, struct sl_err *err);
/* Publish data[0..n) on `subject`; returns once JetStream has stored it
 * (its publish ack). Anything else is SL_RETRY: the caller answers 503. */
int sl_js_publish(struct sl_js *js, const char *subject, const void *data, size_t n,
                  struct sl_err *err);
/* The largest message the servers take. */
size_t sl_js_max_payload(struct sl_js *js);

#endif
