#ifndef MAILPIPE_CUNISTRING_SHIM_H
#define MAILPIPE_CUNISTRING_SHIM_H
// libunistring (libunistring-dev): the Unicode data libidn2 itself uses — general categories,
// bidi classes, normalisation — for the checks IDNA leaves to the caller.
// The C library first: with __GLIBC__ defined, <unistring/stdint.h> takes the system's types
// instead of defining its own, which would clash with the Glibc module's.
#include <stdint.h>
#include <stdlib.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

// UNINORM_NFC is a macro taking an address, which Swift cannot import.
static inline uninorm_t mailpipe_uninorm_nfc(void) { return UNINORM_NFC; }
#endif
