/* The decode team (kernels/team.h): one OpenMP parallel region per forward pass, steps
 * handed to its threads through a counter they spin on.
 *
 * Posting: the leader writes the job, zeroes the count of finished threads, then bumps seq
 * (release); a thread that sees the new seq (acquire) sees the job. Finishing: each thread
 * adds one to done (release) after its share; the leader waits for done = n - 1 (acquire),
 * so every share's writes are visible to it when wk_team_run returns. done is zeroed before
 * the next post, when every thread has counted the last one.
 *
 * Idle work (wk_team_idle) rides with its step: a thread that has counted itself done runs
 * it until seq moves on. So while the leader writes step s + 1, threads may still read step
 * s (its idle work), never s - 1 (each has taken step s, or done would not have come back):
 * two slots, step s in steps[s % 2]. */
#include "kernels/team.h"

#include <immintrin.h>
#include <omp.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>

#define SPINS 4096 /* pauses before yielding: tens of microseconds */

/* Waits while *v holds `was`: pauses first (a step comes within microseconds), then gives
 * the core away between looks, in case the thread it waits for needs it (another process
 * on this core). Returns the new value. */
static unsigned wait_change(const atomic_uint *v, unsigned was)
{
    unsigned now;
    for (int spins = 0; (now = atomic_load_explicit(v, memory_order_acquire)) == was; spins++)
        if (spins < SPINS)
            _mm_pause();
        else
            sched_yield();
    return now;
}

typedef struct {
    wk_team_job job;
    void *arg;
    int n_job; /* threads t < n_job take the job, the others only count themselves done */
    wk_team_idle_fn idle; /* or NULL */
    _Alignas(16) unsigned char idle_arg[WK_TEAM_IDLE_ARG];
} step;

typedef struct team {
    _Alignas(64) atomic_uint seq; /* bumped once per posted step (and once to stop) */
    step steps[2];
    step next_idle; /* the leader's: wk_team_idle's work, for the next post */
    int nt;
    bool stop;
    _Alignas(64) atomic_uint done;
} team;

static _Thread_local team *led; /* the team this thread leads, inside wk_team_serve's body */

int wk_team_size(void)
{
    return led ? led->nt : omp_get_max_threads();
}

void wk_team_idle(wk_team_idle_fn fn, const void *arg, size_t size)
{
    if (!led || size > WK_TEAM_IDLE_ARG)
        return;
    led->next_idle.idle = fn;
    memcpy(led->next_idle.idle_arg, arg, size);
}

/* Runs st's idle work as thread t of nt until it is over or *v reaches until. */
static void idle(const step *st, int t, int nt, const atomic_uint *v, unsigned until)
{
    for (int piece = 0; st->idle; piece++)
        if (atomic_load_explicit(v, memory_order_relaxed) == until ||
            !st->idle(st->idle_arg, t, nt, piece))
            return;
}

void wk_team_run(wk_team_job job, void *arg, int threads)
{
    team *tm = led;
    if (tm && threads > 1) {
        unsigned s = atomic_load_explicit(&tm->seq, memory_order_relaxed) + 1;
        step *st = &tm->steps[s % 2];
        *st = tm->next_idle;
        st->job = job;
        st->arg = arg;
        st->n_job = threads < tm->nt ? threads : tm->nt;
        atomic_store_explicit(&tm->done, 0, memory_order_relaxed);
        atomic_store_explicit(&tm->seq, s, memory_order_release);
        led = NULL; /* a step posted from inside a step runs as an OpenMP region */
        job(arg, 0, st->n_job);
        led = tm;
        idle(st, 0, tm->nt, &tm->done, (unsigned)tm->nt - 1);
        for (unsigned d = 0; d < (unsigned)tm->nt - 1;)
            d = wait_change(&tm->done, d);
    } else if (threads <= 1) {
        job(arg, 0, 1);
    } else {
#pragma omp parallel num_threads(threads)
        job(arg, omp_get_thread_num(), omp_get_num_threads());
    }
    if (tm)
        tm->next_idle.idle = NULL;
}

/* A thread of the team other than its leader: takes each posted step until told to stop. */
static void follow(team *tm, int t)
{
    for (unsigned seen = 0;;) {
        seen = wait_change(&tm->seq, seen);
        if (tm->stop)
            return;
        const step *st = &tm->steps[seen % 2];
        if (t < st->n_job)
            st->job(st->arg, t, st->n_job);
        atomic_fetch_add_explicit(&tm->done, 1, memory_order_release);
        idle(st, t, tm->nt, &tm->seq, seen + 1);
    }
}

void wk_team_serve(int threads, void (*body)(void *ctx), void *ctx)
{
    /* more threads than cores: spinning threads would wait on each other's time slices;
     * OpenMP's regions (which sleep when they wait long) serve better */
    if (threads <= 1 || threads > omp_get_num_procs() || led || omp_in_parallel()) {
        body(ctx);
        return;
    }
    team tm = {.seq = 0, .done = 0};
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
        if (t == 0) {
            /* the others read nt only after a post: the release orders this write */
            tm.nt = omp_get_num_threads();
            led = &tm;
            body(ctx);
            led = NULL;
            tm.stop = true;
            atomic_fetch_add_explicit(&tm.seq, 1, memory_order_release);
        } else {
            follow(&tm, t);
        }
    }
}
