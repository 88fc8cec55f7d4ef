/* pt-dump: a test helper that opens a model path through wk_source_open (formats/source.h)
 * -- meant for PyTorch checkpoints -- reads every tensor and prints one line per tensor:
 *   tensor <name> <dtype> <shape> <bytes> <xxh64 of the bytes, hex>
 * and, when RAW is given, writes every tensor's bytes back to back into RAW so a test can
 * compare them byte for byte with what torch.load gives. --key K selects the state dict
 * inside a wrapping dict (wk_open_opts.state_dict_key). Exits 1 with
 * "pt-dump: error: <message>" on stderr when the checkpoint cannot be read. */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "common/cli.h"
#include "formats/source.h"

static const wk_tool TOOL = {.name = "pt-dump", .synopsis = "[--key KEY] PATH [RAW]"};

int main(int argc, char **argv)
{
    wk_open_opts opts = {NULL};
    int a = 1;
    if (argc > 2 && strcmp(argv[1], "--key") == 0) {
        opts.state_dict_key = argv[2];
        a = 3;
    }
    if (argc - a < 1 || argc - a > 2)
        return wk_cli_usage_error(&TOOL, "expected a model path and an optional output file");
    wk_err e;
    wk_source *s;
    if (wk_source_open(argv[a], &opts, &s, &e) != 0)
        return wk_cli_error(&TOOL, &e);
    FILE *raw = argc - a == 2 ? fopen(argv[a + 1], "wb") : NULL;
    if (argc - a == 2 && !raw) {
        wk_source_close(s);
        return wk_cli_usage_error(&TOOL, "cannot create %s", argv[a + 1]);
    }
    int rc = WK_EXIT_OK;
    for (size_t i = 0; i < s->n_tensors && rc == WK_EXIT_OK; i++) {
        const wk_tensor *t = &s->tensors[i];
        wk_view v;
        if (wk_source_read(s, i, &v, &e) != 0) {
            rc = wk_cli_error(&TOOL, &e);
            break;
        }
        char shape[256];
        wk_shape_format(t, shape, sizeof shape);
        printf("tensor %s %s %s %llu %016llx\n", t->name, wk_type(t->dtype)->name, shape,
               (unsigned long long)v.size, (unsigned long long)XXH64(v.data, v.size, 0));
        if (raw && fwrite(v.data, 1, v.size, raw) != v.size)
            rc = wk_cli_usage_error(&TOOL, "cannot write %s", argv[a + 1]);
        wk_view_release(&v);
    }
    if (raw && fclose(raw) != 0 && rc == WK_EXIT_OK)
        rc = wk_cli_usage_error(&TOOL, "cannot write %s", argv[a + 1]);
    wk_source_close(s);
    return rc;
}
