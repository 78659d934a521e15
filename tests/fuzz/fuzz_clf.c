/* fuzz_clf: the Common and Combined Log Format readers over arbitrary
 * bytes (the control byte chooses which, and the chunk size). */
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct sl_format_opts o = {0};
    o.ref_time = INT64_C(1735812000);
    o.max_record = data[0] & 0x40 ? 64 : 4096;
    fuzz_log(data[0] & 0x80 ? &sl_format_combined : &sl_format_clf, &o, data + 1, size - 1,
             data[0] % 17);
    return 0;
}
