/* The decode team (kernels/team.h): one OpenMP parallel region per forward pass, steps
 * handed to its threads through a counter they spin on.
 *
 * Posting: the leader writes the job, zeroes the count of finished threads, then bumps seq
 * (release); a thread that sees the new seq (acquire) sees the job. Finishing: each thread
 * adds one to done (release) after its share; the leader waits for done = n - 1 (acquire),
 * so every share's writes are visible to it when wk_team_run returns. done is zeroed before
 * the next post, when every thread has counted the last one. */
#include "kernels/team.h"

#include <immintrin.h>
#include <omp.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdbool.h>

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

typedef struct team {
    _Alignas(64) atomic_uint seq; /* bumped once per posted step (and once to stop) */
    wk_team_job job;
    void *arg;
    int n_job; /* threads t < n_job take the job, the others only count themselves done */
    int nt;
    bool stop;
    _Alignas(64) atomic_uint done;
} team;

static _Thread_local team *led; /* the team this thread leads, inside wk_team_serve's body */

int wk_team_size(void)
{
    return led ? led->nt : omp_get_max_threads();
}

void wk_team_run(wk_team_job job, void *arg, int threads)
{
    team *tm = led;
    if (threads <= 1) {
        job(arg, 0, 1);
    } else if (tm) {
        tm->job = job;
        tm->arg = arg;
        tm->n_job = threads < tm->nt ? threads : tm->nt;
        atomic_store_explicit(&tm->done, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&tm->seq, 1, memory_order_release);
        led = NULL; /* a step posted from inside a step runs as an OpenMP region */
        job(arg, 0, tm->n_job);
        led = tm;
        for (unsigned d = 0; d < (unsigned)tm->nt - 1;)
            d = wait_change(&tm->done, d);
    } else {
#pragma omp parallel num_threads(threads)
        job(arg, omp_get_thread_num(), omp_get_num_threads());
    }
}

/* A thread of the team other than its leader: takes each posted step until told to stop. */
static void follow(team *tm, int t)
{
    for (unsigned seen = 0;;) {
        seen = wait_change(&tm->seq, seen);
        if (tm->stop)
            return;
        if (t < tm->n_job)
            tm->job(tm->arg, t, tm->n_job);
        atomic_fetch_add_explicit(&tm->done, 1, memory_order_release);
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
