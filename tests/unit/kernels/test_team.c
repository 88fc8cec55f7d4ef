/* The decode team (kernels/team.h): every step posted inside wk_team_serve runs once on each
 * of the threads asked with the right share and is over, every write visible, when
 * wk_team_run returns (on 2 cores a team of 3 is OpenMP's regions instead, held to the same);
 * outside a team wk_team_run still runs every share; and wk_matvec on a team gives the bits
 * it gives without one. */
#include <criterion/criterion.h>

#include <omp.h>
#include <stdlib.h>
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

typedef struct {
    const wk_matrix *const *w;
    int k;
    const float *x;
    float *const *y;
    void *scratch;
} product;

static void one_product(void *arg)
{
    product *p = arg;
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
