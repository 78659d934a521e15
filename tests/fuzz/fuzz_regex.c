/* fuzz_regex: the regex reader over arbitrary bytes, with one of a few
 * patterns and multiline starts (the control byte chooses, and the chunk
 * size). */
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[][2] = {
    {"(?<ts>\\S+ \\S+) (?<level>[A-Z]+)(?: user=(?<user>\\w+))? (?<msg>.*)", NULL},
    {"(?s)(?<n>\\d+): (?<body>.*)", "\\d+:"},
    {"(?<a>[^,]*),(?<b>[^,]*),(?<c>.*)", NULL},
    {"(?<x>(a|b)*c)(?<y>.*)", "[ab]"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct sl_format_opts o = {0};
    size_t pick = (data[0] >> 4) & 3;
    o.regex = patterns[pick][0];
    o.multiline_start = patterns[pick][1];
    o.max_record = data[0] & 0x40 ? 64 : 4096;
    fuzz_log(&sl_format_regex, &o, data + 1, size - 1, data[0] % 16);
    return 0;
}
