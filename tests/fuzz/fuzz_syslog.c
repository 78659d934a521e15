/* fuzz_syslog: the syslog reader (RFC 3164 and 5424) over arbitrary bytes:
 * the control byte chooses the chunk size, the zone (UTC or one with DST)
 * and a small max_record, so over-long and multi-line records are met. */
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct sl_format_opts o = {0};
    o.timezone = data[0] & 0x80 ? "America/New_York" : "UTC";
    o.ref_time = INT64_C(1735812000);
    o.max_record = data[0] & 0x40 ? 64 : 4096;
    fuzz_log(&sl_format_syslog, &o, data + 1, size - 1, data[0] % 17);
    return 0;
}
