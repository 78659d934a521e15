/* fuzz_log4j: the log4j reader over arbitrary bytes. The control byte
 * chooses the chunk size and the layout: one of a few real ones, or the
 * input's first line, so the layout compiler (conversions, date patterns,
 * the regex it builds) meets arbitrary text too. */
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const layouts[] = {
    "logback", "log4j2", "log4j-ttcc", "spring-boot",
    "%d{ISO8601} [%t] %-5p %c{1}:%L - %m%n",
    "%d{yy/MM/dd HH:mm:ss} %p %C.%M(%F:%L) %X{user} %r %m%n%ex",
    "%d{UNIX_MILLIS} %level %m",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct sl_format_opts o = {0};
    char layout[256];
    size_t pick = (data[0] >> 4) & 7, skip = 1;
    o.timezone = data[0] & 0x08 ? "Europe/Berlin" : "UTC";
    o.ref_time = INT64_C(1735812000);
    o.max_record = 4096;
    if (pick < sizeof layouts / sizeof layouts[0]) {
        o.layout = layouts[pick];
    } else {
        const uint8_t *nl = memchr(data + 1, '\n', size - 1);
        size_t n = nl ? (size_t)(nl - data - 1) : size - 1;
        if (n >= sizeof layout || memchr(data + 1, 0, n))
            return 0;
        memcpy(layout, data + 1, n);
        layout[n] = '\0';
        o.layout = layout;
        skip += n + (nl != NULL);
    }
    struct sl_err err;
    if (sl_format_log4j.check(&o, &err) < 0)
        return 0;
    fuzz_log(&sl_format_log4j, &o, data + skip, size - skip, data[0] % 8);
    return 0;
}
