// A C view of the parts of libphonenumber (Debian libphonenumber-dev) that ingest uses: the
// full parse to E.164, and the facts of each region's metadata that let the caller turn the
// common forms into E.164 without it.
#ifndef MAILPIPE_PHONE_SHIM_H
#define MAILPIPE_PHONE_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a region's metadata says about its numbers.
typedef struct {
    /// Its country calling code (33 for FR); 0 when the region is unknown.
    int32_t country_code;
    /// Possible lengths of a national significant number, as bits (bit n: n digits).
    uint32_t possible_lengths;
    /// The national (trunk) prefix in digits ("0" in FR, "1" in US); empty when none.
    char national_prefix[8];
    /// The prefix dialled to call abroad when it is plain digits ("00", "011"); empty otherwise.
    char international_prefix[8];
    /// 1 when parsing strips exactly the national prefix (no pattern of its own, no transform
    /// rule): only then is a national number the prefix followed by the significant number.
    int32_t plain_national_prefix;
    /// 1 when parsing strips nothing (no national prefix, no pattern for one).
    int32_t no_prefix_rule;
    /// 1 when this region is the main one for its calling code (US for +1).
    int32_t main_country_for_code;
    /// 1 when the international prefix is a pattern (`0(?:0|1[2-9])` in Israel), not plain
    /// digits: whether a number starts with it is asked of `mp_phone_starts_with_idd`.
    int32_t idd_pattern;
    /// The most digits the international prefix pattern can match (its answer on a number's
    /// first that many digits is its answer on the number); 0 when not bounded or not known.
    int32_t idd_max_length;
} mp_region_facts;

/// Fills `facts` for an ISO 3166 alpha-2 region ("FR"); returns 0 when libphonenumber does not
/// know the region.
int mp_phone_region_facts(const char *region, mp_region_facts *facts);

/// 1 when `digits` (ASCII digits only) start with the region's international prefix pattern.
int32_t mp_phone_starts_with_idd(const char *region, const char *digits, int32_t length);

/// The region's pattern for a national prefix (Mexico's `0(?:[12]|4[45])|1`, Argentina's area
/// code and mobile `15`) applied to `digits` as libphonenumber parses: the matched prefix removed,
/// or rewritten by the region's transform rule. Writes the national number to `out` and returns
/// its length; -1 when the pattern does not match at the start or the region has none.
int32_t mp_phone_strip_national_prefix(const char *region, const char *digits, int32_t length, char *out, int32_t capacity);

/// Possible national-number lengths (bits, as above) of the main region of a calling code (the
/// one libphonenumber judges its numbers by); 0 when the code is unknown.
uint32_t mp_phone_calling_code_lengths(int32_t calling_code, int32_t *national_prefix_digit);

/// Makes libphonenumber's instance (its metadata parsed, its ~30 patterns compiled: the bulk of
/// the one-time work here) so that a thread may do it ahead of the first number. Safe on any
/// thread at any time: it is made once (libphonenumber's pthread_once), a caller arriving
/// meanwhile waits for it. (The shim's own parse of the metadata, for the facts above, is left
/// to the first number: it runs beside this one, on the thread that needs it, and not at all in
/// a run without numbers.)
void mp_phone_prepare(void);

/// The full parse: `text` (UTF-8, `length` bytes) read as a number of `region` (may be NULL
/// when the text starts with + or 00…), formatted as E.164 into `out`. Returns the length
/// written, 0 when the text is not a phone number. `valid` (may be NULL) receives 1 when the
/// number is also valid (assigned ranges), else 0.
int32_t mp_phone_e164(const char *text, int32_t length, const char *region, char *out, int32_t capacity, int32_t *valid);

#ifdef __cplusplus
}
#endif

#endif
