#ifndef MAILPIPE_CIDN2_SHIM_H
#define MAILPIPE_CIDN2_SHIM_H
#include <idn2.h>
#endif
