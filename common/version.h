/* The weightkit version, printed by every tool's --version (common/cli.c). */
#ifndef WK_COMMON_VERSION_H
#define WK_COMMON_VERSION_H
#define WK_VERSION "0.1.0"
#endif
