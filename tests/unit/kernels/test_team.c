/* The decode team (kernels/team.h): every step posted inside wk_team_serve runs once on each
 * of the threads asked with the right share and is over, every write visible, when
 * wk_team_run returns (on 2 cores a team of 3 is OpenMP's regions instead, held to the same);
 * outside a team wk_team_run still runs every share; idle work runs after its step only, in
 * order, until it is over or the next step comes; and wk_matvec on a team, told its next
 * product or not, gives the bits it gives without one. */
#include <criterion/criterion.h>

#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/team.h"
#include "quant/types.h"

enum { SLOTS = 4096 };

typedef struct {
    int step;
    int calls[64];  /* shares run, by thread */
    int width[64];  /* the nt each share was told */
    int *cells;     /* SLOTS, each written by the share that owns it */
} steps;

static void fill(void *arg, int t, int nt)
{
    steps *s = arg;
    s->calls[t]++;
    s->width[t] = nt;
    for (int i = t; i < SLOTS; i += nt)
        s->cells[i] = s->step * 64 + t;
}

typedef struct {
    int asked;
    steps st;
    int bad; /* steps after which a cell did not hold its owner's write */
} run;

/* the body: 2000 steps, each checked as soon as wk_team_run returns */
static void many_steps(void *arg)
{
    run *r = arg;
    for (int k = 0; k < 2000; k++) {
        r->st.step = k;
        wk_team_run(fill, &r->st, r->asked);
        int n = r->st.width[0]; /* the shares' count, as the leader's share was told */
        for (int i = 0; i < SLOTS; i++)
            if (r->st.cells[i] != k * 64 + i % n) {
                r->bad++;
                break;
            }
    }
}

static void check_team(int threads, int asked)
{
    run r = {.asked = asked};
    r.st.cells = calloc(SLOTS, sizeof(int));
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    wk_team_serve(threads, many_steps, &r);
    omp_set_num_threads(saved);
    cr_expect_eq(r.bad, 0, "%d threads, %d asked: %d steps read a share not yet written",
                 threads, asked, r.bad);
    int n = asked; /* at most the team's threads, which these cases never exceed */
    for (int t = 0; t < n; t++) {
        cr_expect_eq(r.st.calls[t], 2000, "%d threads, %d asked: thread %d ran %d shares",
                     threads, asked, t, r.st.calls[t]);
        cr_expect_eq(r.st.width[t], n, "thread %d was told %d threads, not %d", t,
                     r.st.width[t], n);
    }
    for (int t = n; t < threads && t < 64; t++)
        cr_expect_eq(r.st.calls[t], 0, "%d asked: thread %d ran a share", asked, t);
    free(r.st.cells);
}

Test(team, every_step_runs_once_per_thread_and_is_done_when_run_returns)
{
    int procs = omp_get_num_procs();
    check_team(2, 2);
    check_team(3, 3);
    check_team(3, 2);         /* fewer asked than the team has */
    check_team(2, 1);         /* one: the leader alone */
    check_team(procs + 1, 2); /* more threads than cores: no team, OpenMP regions */
}

/* outside wk_team_serve: an OpenMP region per step, every share run */
Test(team, without_a_team_a_step_is_an_openmp_region)
{
    steps st = {.step = 7, .cells = calloc(SLOTS, sizeof(int))};
    int saved = omp_get_max_threads();
    omp_set_num_threads(3);
    cr_expect_eq(wk_team_size(), 3);
    wk_team_run(fill, &st, 3);
    omp_set_num_threads(saved);
    for (int t = 0; t < 3; t++)
        cr_expect_eq(st.calls[t], 1, "thread %d ran %d shares", t, st.calls[t]);
    for (int i = 0; i < SLOTS; i++)
        cr_expect_eq(st.cells[i], 7 * 64 + i % 3);
    free(st.cells);
}

/* Idle work that records its pieces: 5 of them, or until `endless`. */
typedef struct {
    atomic_int pieces[64]; /* pieces run, by thread */
    atomic_int bad;        /* pieces run out of order or for a thread of another count */
    int nt;
    bool endless;
} idle_log;

typedef struct {
    idle_log *log;
} idle_arg;

static bool log_piece(const void *arg, int t, int nt, int piece)
{
    idle_log *log = ((const idle_arg *)arg)->log;
    if (nt != log->nt || atomic_load(&log->pieces[t]) != piece)
        atomic_fetch_add(&log->bad, 1);
    atomic_fetch_add(&log->pieces[t], 1);
    return log->endless || piece < 4;
}

static void nothing(void *arg, int t, int nt)
{
}

/* waits (10 s at most: a team that never gets there fails the checks after it instead of
 * hanging) until *n reaches want */
static void wait_for(atomic_int *n, int want)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while (atomic_load(n) < want && t.tv_sec - t0.tv_sec < 10);
}

typedef struct {
    idle_log first, endless, unposted, one_thread;
    int nt;
} idle_case;

/* on a team: idle work given to a step runs on the other thread after it (five pieces,
 * waited for here), endless idle work stops at the next step, and idle work given to a step
 * run on one thread, or never posted, does not run */
static void idle_steps(void *arg)
{
    idle_case *c = arg;
    idle_arg a = {&c->first};
    wk_team_idle(log_piece, &a, sizeof a);
    wk_team_run(nothing, NULL, c->nt);
    wait_for(&c->first.pieces[1], 5);
    a.log = &c->endless;
    wk_team_idle(log_piece, &a, sizeof a);
    wk_team_run(nothing, NULL, c->nt);
    wait_for(&c->endless.pieces[1], 3);
    a.log = &c->one_thread;
    wk_team_idle(log_piece, &a, sizeof a);
    wk_team_run(nothing, NULL, 1);
    wk_team_run(nothing, NULL, c->nt); /* stops the endless work; has none of its own */
    int stopped = atomic_load(&c->endless.pieces[1]);
    for (int k = 0; k < 1000; k++)
        wk_team_run(nothing, NULL, c->nt);
    cr_expect_leq(atomic_load(&c->endless.pieces[1]), stopped + 1,
                  "endless idle work went on after the next step: %d pieces, then %d",
                  stopped, atomic_load(&c->endless.pieces[1]));
    a.log = &c->unposted;
    wk_team_idle(log_piece, &a, sizeof a); /* the pass ends before another step */
}

/* (a team whose threads never leave endless idle work never counts them done: the timeout
 * fails it instead of hanging) */
Test(team, idle_work_runs_after_its_step_until_it_ends_or_the_next_step, .timeout = 60)
{
    if (omp_get_num_procs() < 2)
        cr_skip_test("one core: wk_team_serve runs no team");
    idle_case c = {.nt = 2, .first.nt = 2, .endless = {.nt = 2, .endless = true},
                   .unposted.nt = 2, .one_thread.nt = 2};
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    wk_team_serve(2, idle_steps, &c);
    omp_set_num_threads(saved);
    cr_expect_eq(atomic_load(&c.first.pieces[1]), 5, "the other thread ran %d pieces, not 5",
                 atomic_load(&c.first.pieces[1]));
    cr_expect_leq(atomic_load(&c.first.pieces[0]), 5, "the leader ran %d pieces",
                  atomic_load(&c.first.pieces[0]));
    cr_expect_eq(atomic_load(&c.first.bad) + atomic_load(&c.endless.bad), 0,
                 "pieces out of order or told the wrong thread count");
    cr_expect_eq(atomic_load(&c.one_thread.pieces[0]) + atomic_load(&c.one_thread.pieces[1]),
                 0, "a step run on one thread passed its idle work on");
    cr_expect_eq(atomic_load(&c.unposted.pieces[0]) + atomic_load(&c.unposted.pieces[1]), 0,
                 "idle work ran with no step posted");
    /* outside a team: dropped */
    idle_log none = {.nt = 2};
    idle_arg a = {&none};
    wk_team_idle(log_piece, &a, sizeof a);
    wk_team_run(nothing, NULL, 2);
    cr_expect_eq(atomic_load(&none.pieces[0]) + atomic_load(&none.pieces[1]), 0);
}

typedef struct {
    const wk_matrix *const *w;
    int k;
    const float *x;
    float *const *y;
    void *scratch;
} product;

/* the product twice, the second time named ahead (kernels/matmul.h's wk_matvec_ahead) */
static void one_product(void *arg)
{
    product *p = arg;
    wk_matvec_ahead(p->w, p->k);
    wk_matvec(p->w, p->k, p->x, p->y, p->scratch);
    wk_matvec(p->w, p->k, p->x, p->y, p->scratch);
}

/* Two Q8_0 matrices large enough to run in parallel, through wk_matvec on a team of 1-3
 * threads: the bits it gives without one. */
Test(team, matvec_on_a_team_gives_the_same_bits)
{
    const int64_t cols = 1024, rows[2] = {1100, 333};
    wk_matrix m[2];
    const wk_matrix *w[2] = {&m[0], &m[1]};
    float *x = malloc(cols * sizeof(float)), *want[2], *got[2];
    for (int64_t i = 0; i < cols; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int j = 0; j < 2; j++) {
        size_t bytes = wk_row_bytes(WK_Q8_0, cols) * (size_t)rows[j];
        uint8_t *data = malloc(bytes);
        for (size_t i = 0; i < bytes; i++) /* any bytes but NaN scales: d = 1/1024 */
            data[i] = i % 34 == 0 ? 0x00 : i % 34 == 1 ? 0x14 : (uint8_t)(i * 131 >> 3);
        m[j] = (wk_matrix){data, WK_Q8_0, rows[j], cols};
        want[j] = malloc((size_t)rows[j] * sizeof(float));
        got[j] = malloc((size_t)rows[j] * sizeof(float));
    }
    void *scratch = malloc(wk_matvec_scratch(w, 2));
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    wk_matvec(w, 2, x, want, scratch);
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        for (int j = 0; j < 2; j++)
            memset(got[j], 0xff, (size_t)rows[j] * sizeof(float));
        product p = {w, 2, x, got, scratch};
        wk_team_serve(threads, one_product, &p);
        for (int j = 0; j < 2; j++)
            cr_expect(memcmp(got[j], want[j], (size_t)rows[j] * sizeof(float)) == 0,
                      "%d threads: matrix %d differs on a team", threads, j);
    }
    omp_set_num_threads(saved);
    for (int j = 0; j < 2; j++) {
        free((void *)m[j].data);
        free(want[j]);
        free(got[j]);
    }
    free(scratch);
    free(x);
}
