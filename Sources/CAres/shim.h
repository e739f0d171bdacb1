#ifndef MAILPIPE_CARES_SHIM_H
#define MAILPIPE_CARES_SHIM_H
#include <ares.h>
#include <poll.h>
#endif
