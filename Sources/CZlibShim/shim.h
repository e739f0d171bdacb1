#ifndef MAILPIPE_CZLIB_SHIM_H
#define MAILPIPE_CZLIB_SHIM_H
#include <zlib.h>

// deflateInit2/inflateInit2 are macros that pass the library version and struct size;
// Swift cannot import macros with arguments, so these typed wrappers stand in for them.
static inline int mp_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
static inline int mp_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
