/* The Vidur importer (experiments/profiles_vidur.c): a point is layers x (sum of the nine
 * per-layer operator medians) + emb from the single-device rows of mlp.csv (duplicate token
 * counts averaged), plus the cost model's attention and the device's batch_overhead; at most
 * EP_PROFILE_POINTS points per kind with increasing x; a bad file names FILE:LINE and writes
 * nothing. Checked on small hand-made files and on Vidur's published A100 Llama-2-7B file
 * (../shared/profiles/vidur; skipped when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "epara/error.h"
#include "epara/prepare.h"
#include "epara/profile.h"
#include "epara/scenario.h"

#define VIDUR_A100_7B EP_SHARED_DIR "/profiles/vidur/a100/meta-llama/Llama-2-7b-hf"
#define OVERHEAD_NS   300000 /* batch_overhead_ms: 0.3 below */

static const char yaml[] =
        "name: a100-llama2\n"
        "devices:\n"
        "  - {name: a100, kind: gpu, mem_gb: 80, mem_bw_gbps: 2000, peak_tflops: 312,"
        " batch_overhead_ms: 0.3}\n"
        "nodes:\n"
        "  - {name: n, class: server, cores: 32, mem_gb: 256, devices: [a100],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: llama2-7b, kind: llm, params_b: 6.74, layers: 32, hidden: 4096, vocab: 32000,"
        " kv_kb_per_token: 512, max_batch: 64, slo: {ttft_ms: 2000, tpot_ms: 200}}\n"
        "  - {name: seg, kind: dnn, gflops: 62, params_m: 27.5, slo: {deadline_ms: 100}}\n";

static const char *const ops[] = {"emb",         "input_layernorm", "attn_pre_proj",
                                  "attn_rope",   "attn_post_proj",  "post_attention_layernorm",
                                  "mlp_up_proj", "mlp_act",         "mlp_down_proj",
                                  "add"};
#define NOPS 10

typedef struct fixture {
    ep_scenario sc;
    ep_store *st;
    char db[64];
    char dir[64];
    char err[1024];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ep_parse_error pe;
    if (!f || ep_scenario_load_text(yaml, strlen(yaml), "t", ".", &f->sc, &pe))
        return -1;
    snprintf(f->db, sizeof f->db, "test_vidur_%ld.db", (long)getpid());
    remove(f->db);
    snprintf(f->dir, sizeof f->dir, "test_vidur_XXXXXX");
    if (!mkdtemp(f->dir) || ep_store_open(f->db, 0, &f->st, NULL, 0))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/mlp.csv", f->dir);
    remove(path);
    snprintf(path, sizeof path, "%s/attention.csv", f->dir);
    remove(path);
    rmdir(f->dir);
    ep_store_close(f->st);
    remove(f->db);
    ep_scenario_fini(&f->sc);
    free(f);
    return 0;
}

/* Vidur's header, with the median column of operator `renamed` (-1: none) misspelt. */
static void
write_header(FILE *out, int renamed)
{
    for (int k = 0; k < NOPS; k++)
        fprintf(out,
                "time_stats.%s.min,time_stats.%s.max,time_stats.%s.mean,time_stats.%s.%s,"
                "time_stats.%s.std,",
                ops[k], ops[k], ops[k], ops[k], k == renamed ? "med" : "median", ops[k]);
    fputs("n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,"
          "num_tensor_parallel_workers\n",
          out);
}

/* A data row whose every operator's statistics are `ms`, except the median of operator
 * bad_op (-1: none), which is the text `bad`. */
static void
write_row(FILE *out, int tokens, int tp, int embd, const char *ms, int bad_op, const char *bad)
{
    for (int k = 0; k < NOPS; k++)
        fprintf(out, "%s,%s,%s,%s,0.0,", ms, ms, ms, k == bad_op ? bad : ms);
    fprintf(out, "32,32,%d,11008,32768,True,%d,%d\n", embd, tokens, tp);
}

static FILE *
open_mlp(const fixture *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s/mlp.csv", f->dir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    return out;
}

static int64_t
query_i64(fixture *f, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(ep_store_db(f->st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static ep_dur
prefill_attention(fixture *f, int64_t x)
{
    return ep_cost_llm_attention(&f->sc, 0, 0, x, (double)x * (double)x, 0, 0);
}

static ep_dur
decode_attention(fixture *f, int b, int64_t ctx_ref)
{
    return ep_cost_llm_attention(&f->sc, 0, 0, 0, 0, b, b * ctx_ref);
}

static ep_dur
stored(fixture *f, const char *kind, int64_t x)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT latency_ns FROM profiles WHERE service = 'llama2-7b' AND device = 'a100'"
             " AND kind = '%s' AND x = %lld",
             kind, (long long)x);
    return query_i64(f, sql);
}

static void
test_points_sum_layers_of_operators_plus_emb_attention_and_overhead(void **state)
{
    fixture *f = *state;
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 8, 1, 4096, "0.02", -1, NULL);
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    write_row(out, 8, 2, 4096, "9", -1, NULL); /* two tensor-parallel workers: not read */
    write_row(out, 100, 1, 4096, "0.1", -1, NULL);
    write_row(out, 8, 1, 4096, "0.04", -1, NULL); /* a duplicate of 8 tokens: averaged */
    fclose(out);
    ep_vidur_profile p;
    int rc = ep_profiles_import_vidur(f->st, f->dir, &f->sc, 0, 0, 256, &p, f->err, sizeof f->err);
    if (rc)
        fail_msg("%s", f->err);
    /* Every median m: layers x 9 m + m. 1 token: 32 x 9 x 0.01 + 0.01 = 2.89 ms; 8 tokens:
     * (32 x 9 x 0.02 + 0.02 = 5.78 and 32 x 9 x 0.04 + 0.04 = 11.56) / 2 = 8.67 ms; 100
     * tokens: 28.9 ms. Decode batches: token counts <= max_batch 64, so 1 and 8. */
    assert_int_equal(p.nprefill, 3);
    assert_int_equal(p.ndecode, 2);
    assert_int_equal(p.rows, 5);
    assert_int_equal(p.rows_tp1, 4);
    assert_int_equal(p.vocab_size, 32768);
    assert_int_equal(query_i64(f, "SELECT count(*) FROM profiles"), 5);
    assert_int_equal(stored(f, "prefill", 1), 2890000 + prefill_attention(f, 1) + OVERHEAD_NS);
    assert_int_equal(stored(f, "prefill", 8), 8670000 + prefill_attention(f, 8) + OVERHEAD_NS);
    assert_int_equal(stored(f, "prefill", 100), 28900000 + prefill_attention(f, 100) + OVERHEAD_NS);
    assert_int_equal(stored(f, "decode", 1), 2890000 + decode_attention(f, 1, 256) + OVERHEAD_NS);
    assert_int_equal(stored(f, "decode", 8), 8670000 + decode_attention(f, 8, 256) + OVERHEAD_NS);
    assert_int_equal(p.pts[1].linear, 8670000);
    assert_int_equal(p.pts[1].attention, prefill_attention(f, 8));
    assert_int_equal(p.pts[1].overhead, OVERHEAD_NS);
    assert_true(p.pts[1].attention > 0);
    assert_int_equal(query_i64(f, "SELECT count(*) FROM profiles WHERE kind = 'decode'"
                                  " AND ctx_ref = 256"),
                     2);
    assert_int_equal(query_i64(f, "SELECT count(*) FROM profiles WHERE kind = 'prefill'"
                                  " AND ctx_ref IS NULL"),
                     3);
    assert_int_equal(query_i64(f, "SELECT count(*) FROM profiles WHERE source ="
                                  " 'vidur mlp.csv + modelled attention + batch_overhead'"
                                  " AND measured_at IS NOT NULL"),
                     5);
}

/* pts[0..n) are of `kind`, with x increasing, 2 to EP_PROFILE_POINTS of them, and are all
 * the stored rows of that kind. */
static void
check_increasing(fixture *f, const ep_vidur_point *pts, int n, const char *kind)
{
    assert_true(n >= 2 && n <= EP_PROFILE_POINTS);
    for (int i = 0; i < n; i++) {
        assert_string_equal(pts[i].row.kind, kind);
        assert_true(i == 0 || pts[i].row.x > pts[i - 1].row.x);
        assert_int_equal(stored(f, kind, pts[i].row.x), pts[i].row.latency);
    }
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM profiles WHERE kind = '%s'", kind);
    assert_int_equal(query_i64(f, sql), n);
}

static void
test_vidur_a100_llama2_7b_matches_hand_sums_of_the_csv(void **state)
{
    fixture *f = *state;
    if (access(VIDUR_A100_7B "/mlp.csv", R_OK) != 0) {
        print_message("skipped: %s/mlp.csv is absent\n", VIDUR_A100_7B);
        skip();
    }
    ep_vidur_profile p;
    int rc = ep_profiles_import_vidur(f->st, VIDUR_A100_7B, &f->sc, 0, 0, 1024, &p, f->err,
                                      sizeof f->err);
    if (rc)
        fail_msg("%s", f->err);
    assert_int_equal(p.rows, 1044);
    assert_int_equal(p.rows_tp1, 261);
    /* Line 130, num_tokens 1056, tp 1: medians (ms) input_layernorm 0.023, attn_pre_proj
     * 0.472, attn_rope 0.039, attn_post_proj 0.186, post_attention_layernorm 0.022,
     * mlp_up_proj 0.869, mlp_act 0.070, mlp_down_proj 0.503, add 0.013: sum 2.197 ms;
     * x 32 layers = 70.304 ms, + emb 0.063 = 70.367 ms. */
    assert_int_equal(stored(f, "prefill", 1056),
                     70367000 + prefill_attention(f, 1056) + OVERHEAD_NS);
    /* Lines 2 and 3, both num_tokens 4096, tp 1. Line 2: 0.105 + 1.911 + 0.149 + 0.611 +
     * 0.104 + 3.3655 + 0.266 + 1.604 + 0.055 = 8.1705 ms, x 32 = 261.456, + emb 0.234 =
     * 261.690 ms. Line 3: 0.104 + 1.8865 + 0.1485 + 0.603 + 0.104 + 3.324 + 0.2645 + 1.585 +
     * 0.055 = 8.0745 ms, x 32 = 258.384, + emb 0.235 = 258.619 ms. Mean 260.1545 ms. */
    assert_int_equal(stored(f, "prefill", 4096),
                     260154500 + prefill_attention(f, 4096) + OVERHEAD_NS);
    /* Line 262, num_tokens 1: 0.005 + 0.065 + 0.005 + 0.025 + 0.005 + 0.116 + 0.007 + 0.06 +
     * 0.002 = 0.290 ms, x 32 = 9.28, + emb 0.003 = 9.283 ms; as a decode batch of 1 at 1024
     * context tokens. */
    assert_int_equal(stored(f, "decode", 1), 9283000 + decode_attention(f, 1, 1024) + OVERHEAD_NS);
    assert_int_equal(stored(f, "prefill", 1), 9283000 + prefill_attention(f, 1) + OVERHEAD_NS);
    check_increasing(f, p.pts, p.nprefill, "prefill");
    check_increasing(f, p.pts + p.nprefill, p.ndecode, "decode");
    /* Both ends of the CSV's 259 distinct token counts; the prefill table is full. */
    assert_int_equal(p.pts[0].row.x, 1);
    assert_int_equal(p.pts[p.nprefill - 1].row.x, 4096);
    assert_int_equal(p.nprefill, EP_PROFILE_POINTS);
    /* Decode: 1 up to the largest token count <= max_batch 64 (1, 2, 4, 8, 16, ..., 64). */
    assert_int_equal(p.pts[p.nprefill].row.x, 1);
    assert_int_equal(p.pts[p.nprefill + p.ndecode - 1].row.x, 64);
    assert_int_equal(p.ndecode, 11);

    /* The simulator reads the table back: a prefill at a stored point costs what was stored. */
    int loaded = 0;
    assert_int_equal(ep_scenario_load_profiles(&f->sc, f->st, &loaded, f->err, sizeof f->err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(ep_cost_llm_prefill(&f->sc, 0, 0, 1056), stored(f, "prefill", 1056));
    assert_int_equal(ep_cost_llm_decode(&f->sc, 0, 0, 1, 1024), stored(f, "decode", 1));
}

/* Imports the fixture's directory expecting error code want with `where` and `what` in the
 * message, and checks that the one row stored before is still the only one. */
static void
expect_refused(fixture *f, int want, const char *where, const char *what)
{
    assert_int_equal(sqlite3_exec(ep_store_db(f->st),
                                  "INSERT OR REPLACE INTO profiles (service, device, kind, x,"
                                  " latency_ns) VALUES ('llama2-7b', 'a100', 'prefill', 7, 7)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ep_vidur_profile p;
    memset(&p, 0, sizeof p);
    int rc = ep_profiles_import_vidur(f->st, f->dir, &f->sc, 0, 0, 1024, &p, f->err, sizeof f->err);
    if (rc != want || !strstr(f->err, where) || !strstr(f->err, what))
        fail_msg("rc %d (want %d), message '%s' (want '%s' and '%s')", rc, want, f->err, where,
                 what);
    assert_int_equal(query_i64(f, "SELECT count(*) FROM profiles"), 1);
    assert_int_equal(query_i64(f, "SELECT x FROM profiles"), 7);
    assert_int_equal(p.nprefill, 0); /* out untouched */
}

static void
test_missing_column_names_the_file_line_and_column(void **state)
{
    fixture *f = *state;
    FILE *out = open_mlp(f);
    write_header(out, 9); /* time_stats.add.med */
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    fclose(out);
    char where[96];
    snprintf(where, sizeof where, "%s/mlp.csv:1: ", f->dir);
    expect_refused(f, EP_EPARSE, where, "no column 'time_stats.add.median'");
}

static void
test_hidden_size_mismatch_names_both_values(void **state)
{
    fixture *f = *state;
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    write_row(out, 2, 1, 2048, "0.01", -1, NULL);
    fclose(out);
    char where[96];
    snprintf(where, sizeof where, "%s/mlp.csv:3: ", f->dir);
    expect_refused(f, EP_EINVAL, where, "n_embd is 2048 but service 'llama2-7b' has hidden 4096");
}

static void
test_non_numeric_median_names_the_file_line_and_column(void **state)
{
    fixture *f = *state;
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    write_row(out, 2, 1, 4096, "0.01", 7, "fast");
    fclose(out);
    char where[96];
    snprintf(where, sizeof where, "%s/mlp.csv:3: ", f->dir);
    expect_refused(f, EP_EPARSE, where, "time_stats.mlp_act.median: expected a number");
}

static void
test_no_single_device_rows_is_refused(void **state)
{
    fixture *f = *state;
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 1, 2, 4096, "0.01", -1, NULL);
    write_row(out, 2, 4, 4096, "0.01", -1, NULL);
    fclose(out);
    char where[96];
    snprintf(where, sizeof where, "%s/mlp.csv:3: ", f->dir);
    expect_refused(f, EP_EPARSE, where, "num_tensor_parallel_workers = 1");
}

static void
test_missing_file_and_attention_csv_are_refused(void **state)
{
    fixture *f = *state;
    char where[96];
    snprintf(where, sizeof where, "%s/mlp.csv: cannot open", f->dir);
    expect_refused(f, EP_ENOENT, where, "mlp.csv of the model");
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    fclose(out);
    char path[128];
    snprintf(path, sizeof path, "%s/attention.csv", f->dir);
    out = fopen(path, "w");
    assert_non_null(out);
    fclose(out);
    expect_refused(f, EP_ENOTSUP, path, "not supported yet");
}

static void
test_dnn_service_is_refused(void **state)
{
    fixture *f = *state;
    ep_vidur_profile p;
    assert_int_equal(ep_vidur_read(f->dir, &f->sc, 1, 0, 1024, &p, f->err, sizeof f->err),
                     EP_EINVAL);
    assert_non_null(strstr(f->err, "LLM"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_points_sum_layers_of_operators_plus_emb_attention_and_overhead, setup,
                    teardown),
            cmocka_unit_test_setup_teardown(test_vidur_a100_llama2_7b_matches_hand_sums_of_the_csv,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_missing_column_names_the_file_line_and_column,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_hidden_size_mismatch_names_both_values, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_non_numeric_median_names_the_file_line_and_column,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_single_device_rows_is_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_missing_file_and_attention_csv_are_refused, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_dnn_service_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
