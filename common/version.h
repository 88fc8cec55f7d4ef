#ifndef WK_COMMON_VERSION_H
#define WK_COMMON_VERSION_H
#define WK_VERSION "0.1.0"
#endif
