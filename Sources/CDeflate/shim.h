#ifndef MAILPIPE_CDEFLATE_SHIM_H
#define MAILPIPE_CDEFLATE_SHIM_H
// libdeflate (Debian libdeflate-dev): whole-buffer DEFLATE, the compressor of gzip members.
#include <libdeflate.h>
#endif
