/* A team for decoding: threads that stay together through one token's forward pass and take its
 * parallel steps (the matrix-vector products, attention) as jobs.
 *
 * A token's decode has a hundred and more parallel steps of a few hundred microseconds each. An
 * OpenMP parallel region per step costs its start and its end: an empty one took 3.1 us on two
 * Zen 5 cores of a virtual machine, and in decoding the main thread lost ~3 us entering each
 * region and ~3 us more leaving it beyond the wait for the slower thread. In a team the main
 * thread posts a step (an atomic store of the next step number), the other threads, spinning on
 * it, take it, and the step is over when their count of finished threads comes back: ~0.4 us
 * for both. Everything else in the forward pass runs on the main thread as it would without a
 * team, so the code that posts steps reads the same either way: wk_team_run runs its job in an
 * OpenMP parallel region where there is no team. */
#ifndef WK_KERNELS_TEAM_H
#define WK_KERNELS_TEAM_H

#include <stdbool.h>
#include <stddef.h>

/* One thread's share of a step: t of nt threads (0 is the caller of wk_team_run). */
typedef void (*wk_team_job)(void *arg, int t, int nt);

/* Runs job(arg, t, n) for every t < n at once and returns when all are done, n = threads at
 * most: on the team this thread leads (wk_team_serve), else in an OpenMP parallel region
 * (threads <= 1: on this thread alone). */
void wk_team_run(wk_team_job job, void *arg, int threads);

/* Work for the time a thread of the team would spend waiting: fn(arg, t, nt, piece) for
 * piece = 0, 1, ... until it returns false or the next step is posted, each piece short (a
 * microsecond or so: it is not interrupted). It must not post steps or idle work itself. */
typedef bool (*wk_team_idle_fn)(const void *arg, int t, int nt, int piece);
#define WK_TEAM_IDLE_ARG 64 /* the most bytes of arg wk_team_idle keeps */

/* Gives the next step posted on this thread's team idle work (decoding: fetching the weights
 * of the step after it): each thread, its share of that step done, runs fn with its t (of the
 * team's nt) while the other shares and the leader's work between steps go on. arg is copied
 * (size <= WK_TEAM_IDLE_ARG bytes). Outside a team, and for a step run on one thread, the
 * work is dropped: it may only make steps faster, never change what they compute. */
void wk_team_idle(wk_team_idle_fn fn, const void *arg, size_t size);

/* The threads wk_team_run can use: the team's, else OpenMP's (omp_get_max_threads). */
int wk_team_size(void);

/* Runs body(ctx) on this thread while up to threads - 1 others, in an OpenMP parallel region,
 * take the steps it posts with wk_team_run; returns when body has. With one thread, more
 * threads than cores, or from inside a parallel region, it just runs body (and wk_team_run
 * its OpenMP regions). */
void wk_team_serve(int threads, void (*body)(void *ctx), void *ctx);

#endif
