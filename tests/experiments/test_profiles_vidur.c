/* The Vidur importer (experiments/profiles_vidur.c): a point is layers x (sum of the nine
 * per-layer operator medians) + emb from the single-device rows of mlp.csv (duplicate token
 * counts averaged), plus the attention (attention.csv's, interpolated, when DIR has it; else
 * the cost model's) and the device's batch_overhead; at most EP_PROFILE_POINTS points per kind
 * with increasing x; a bad file names FILE:LINE and writes nothing. Checked on small hand-made
 * files and on Vidur's published A100 Llama-2-7B mlp.csv (../shared/profiles/vidur; skipped
 * when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"

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
open_file(const fixture *f, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    return out;
}

static FILE *
open_mlp(const fixture *f)
{
    return open_file(f, "mlp.csv");
}

/* One attention.csv row: t[] are the medians (ms, text; "" where the row has none) of
 * attn_prefill, attn_decode, attn_kv_cache_save, attn_input_reshape, attn_output_reshape. */
typedef struct att_row {
    int tp, embd, qhead, batch, chunk, kv;
    const char *is_prefill;
    const char *t[5];
} att_row;

/* An attention.csv with Vidur's columns (the attn_decode median named decode_col), then
 * rows[0..n). */
static void
write_attention(const fixture *f, const char *decode_col, const att_row *rows, int n)
{
    FILE *out = open_file(f, "attention.csv");
    fprintf(out,
            "time_stats.attn_prefill.min,time_stats.attn_prefill.median,%s,"
            "time_stats.attn_kv_cache_save.median,time_stats.attn_input_reshape.median,"
            "time_stats.attn_output_reshape.median,n_embd,n_q_head,n_kv_head,block_size,"
            "num_tensor_parallel_workers,max_model_len,batch_size,prefill_chunk_size,"
            "kv_cache_size,is_prefill,attention_backend\n",
            decode_col);
    for (int i = 0; i < n; i++) {
        const att_row *r = &rows[i];
        fprintf(out,
                "%s,%s,%s,%s,%s,%s,%d,%d,32,16,%d,4096,%d,%d,%d,%s,"
                "AttentionBackend.FLASH_ATTENTION\n",
                r->t[0], r->t[0], r->t[1], r->t[2], r->t[3], r->t[4], r->embd, r->qhead, r->tp,
                r->batch, r->chunk, r->kv, r->is_prefill);
    }
    fclose(out);
}

#define DECODE_COL "time_stats.attn_decode.median"
#define NROWS(a)   ((int)(sizeof(a) / sizeof((a)[0])))
/* A single-device prefill of a whole prompt of `chunk` tokens: medians attn_prefill,
 * kv_cache_save, input_reshape and output_reshape (text; "": none). */
static att_row
prefill(int chunk, const char *attn, const char *kv_save, const char *in, const char *out)
{
    return (att_row){1, 4096, 32, 1, chunk, 0, "True", {attn, "", kv_save, in, out}};
}

/* A single-device decode of `batch` sequences at `kv` context tokens each: medians
 * attn_decode and kv_cache_save; no reshape timers. */
static att_row
decode(int batch, int kv, const char *attn, const char *kv_save)
{
    return (att_row){1, 4096, 32, batch, 0, kv, "False", {"", attn, kv_save, "", ""}};
}

/* A small valid mlp.csv: 1 and 8 tokens. */
static void
write_small_mlp(const fixture *f)
{
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    write_row(out, 8, 1, 4096, "0.02", -1, NULL);
    fclose(out);
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
    assert_false(p.attention_measured);
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

static void
test_attention_csv_replaces_the_modelled_attention(void **state)
{
    fixture *f = *state;
    FILE *out = open_mlp(f);
    write_header(out, -1);
    write_row(out, 1, 1, 4096, "0.01", -1, NULL);
    write_row(out, 8, 1, 4096, "0.02", -1, NULL);
    write_row(out, 100, 1, 4096, "0.1", -1, NULL);
    fclose(out);
    const att_row rows[] = {
            prefill(64, "0.2", "0.02", "0.004", "0.006"),
            prefill(8, "0.05", "0.01", "0.002", "0.003"),
            prefill(128, "0.6", "0.03", "0.006", "0.014"),
            {2, 4096, 32, 1, 100, 0, "True", {"9", "", "9", "9", "9"}},   /* tp 2: not read */
            {1, 4096, 32, 1, 100, 512, "True", {"9", "", "9", "9", "9"}}, /* a later chunk */
            decode(1, 256, "0.02", "0.001"),
            decode(1, 512, "0.03", "0.001"),
            decode(4, 512, "0.09", "0.002"),
            decode(4, 256, "0.05", "0.002"),
            decode(12, 256, "0.13", "0.004"),
            decode(12, 512, "0.25", "0.004"),
            {2, 4096, 32, 8, 0, 300, "False", {"", "9", "9", "", ""}}, /* tp 2: not read */
    };
    write_attention(f, DECODE_COL, rows, NROWS(rows));
    ep_vidur_profile p;
    int rc = ep_profiles_import_vidur(f->st, f->dir, &f->sc, 0, 0, 300, &p, f->err, sizeof f->err);
    if (rc)
        fail_msg("%s", f->err);
    assert_int_equal(p.nprefill, 3);
    assert_int_equal(p.ndecode, 2);
    assert_true(p.attention_measured);
    assert_int_equal(p.attention_rows, 12);
    assert_int_equal(p.attention_prefill, 3);
    assert_int_equal(p.attention_decode, 6);
    /* Linear (mlp.csv, as above): 1 token 2.89 ms, 8 tokens 5.78 ms, 100 tokens 28.9 ms.
     * Prefill at 8 tokens, a row of the file: per layer attn_prefill 0.05 + kv_cache_save
     * 0.01 + input_reshape 0.002 + output_reshape 0.003 = 0.065 ms; x 32 layers = 2.08 ms.
     * Total 5.78 + 2.08 + 0.3 = 8.16 ms. */
    assert_int_equal(p.pts[1].row.x, 8);
    assert_int_equal(p.pts[1].attention, 2080000);
    assert_int_equal(stored(f, "prefill", 8), 8160000);
    /* Prefill at 100 tokens, between the rows of 64 (0.2 + 0.02 + 0.004 + 0.006 = 0.23 ms)
     * and 128 (0.6 + 0.03 + 0.006 + 0.014 = 0.65 ms): 0.23 + (0.65 - 0.23) x 36 / 64 =
     * 0.46625 ms per layer, x 32 = 14.92 ms (the later chunk and the tp-2 row of 100 tokens
     * are not read). Total 28.9 + 14.92 + 0.3 = 44.12 ms. */
    assert_int_equal(p.pts[2].attention, 14920000);
    assert_int_equal(stored(f, "prefill", 100), 44120000);
    /* Prefill at 1 token, below the smallest row (8): 0.065 ms x (1/8)^2 = 0.001015625 ms per
     * layer, x 32 = 0.0325 ms. Total 2.89 + 0.0325 + 0.3 = 3.2225 ms. */
    assert_int_equal(stored(f, "prefill", 1), 3222500);
    /* Decode at batch 1, ctx_ref 300, between kv_cache_size 256 (0.02 + 0.001 = 0.021 ms; the
     * empty reshape cells count 0) and 512 (0.031 ms): 0.021 + 0.010 x 44 / 256 =
     * 0.02271875 ms per layer, x 32 = 0.727 ms. Total 2.89 + 0.727 + 0.3 = 3.917 ms. */
    assert_int_equal(p.pts[3].attention, 727000);
    assert_int_equal(stored(f, "decode", 1), 3917000);
    /* Decode at batch 8, between batches 4 and 12, each at kv_cache_size 300: batch 4 0.052 +
     * 0.040 x 44 / 256 = 0.058875 ms, batch 12 0.134 + 0.120 x 44 / 256 = 0.154625 ms; at 8,
     * halfway: 0.10675 ms per layer, x 32 = 3.416 ms. Total 5.78 + 3.416 + 0.3 = 9.496 ms. */
    assert_int_equal(stored(f, "decode", 8), 9496000);
    assert_string_equal(p.source, "vidur mlp.csv + attention.csv + batch_overhead");
    assert_int_equal(query_i64(f, "SELECT count(*) FROM profiles WHERE source ="
                                  " 'vidur mlp.csv + attention.csv + batch_overhead'"),
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
test_missing_mlp_csv_is_refused_even_beside_an_attention_csv(void **state)
{
    fixture *f = *state;
    const att_row rows[] = {prefill(8, "0.05", "", "", ""), decode(1, 256, "0.02", "")};
    write_attention(f, DECODE_COL, rows, 2); /* read only after mlp.csv */
    char where[96];
    snprintf(where, sizeof where, "%s/mlp.csv: cannot open", f->dir);
    expect_refused(f, EP_ENOENT, where, "mlp.csv of the model");
}

/* Writes a small valid mlp.csv and, unless rows is NULL, an attention.csv of rows[0..n) (the
 * attn_decode median column named decode_col), then expects the import refused with code
 * want, "DIR/attention.csv:LINE: " and `what` in the message, and nothing written. */
static void
expect_attention_refused(fixture *f, const char *decode_col, const att_row *rows, int n, int want,
                         int line, const char *what)
{
    write_small_mlp(f);
    if (rows)
        write_attention(f, decode_col, rows, n);
    char where[128];
    snprintf(where, sizeof where, "%s/attention.csv:%d: ", f->dir, line);
    expect_refused(f, want, where, what);
}

static void
test_attention_missing_timer_column_names_the_file_line_and_column(void **state)
{
    const att_row rows[] = {prefill(8, "0.05", "", "", ""), decode(1, 256, "0.02", "")};
    expect_attention_refused(*state, "time_stats.attn_decode.med", rows, NROWS(rows), EP_EPARSE, 1,
                             "no column 'time_stats.attn_decode.median'");
}

static void
test_attention_is_prefill_must_be_true_or_false(void **state)
{
    const att_row rows[] = {prefill(8, "0.05", "", "", ""),
                            {1, 4096, 32, 1, 0, 256, "yes", {"", "0.02", "", "", ""}}};
    expect_attention_refused(*state, DECODE_COL, rows, NROWS(rows), EP_EPARSE, 3,
                             "is_prefill is \"yes\": expected True or False");
}

static void
test_attention_hidden_size_mismatch_names_both_values(void **state)
{
    const att_row rows[] = {prefill(8, "0.05", "", "", ""),
                            {1, 2048, 16, 1, 0, 256, "False", {"", "0.02", "", "", ""}}};
    expect_attention_refused(*state, DECODE_COL, rows, NROWS(rows), EP_EINVAL, 3,
                             "n_embd is 2048 but service 'llama2-7b' has hidden 4096");
}

static void
test_attention_without_single_device_decode_rows_is_refused(void **state)
{
    const att_row rows[] = {
            prefill(8, "0.05", "", "", ""),
            prefill(64, "0.2", "", "", ""),
            {2, 4096, 32, 1, 0, 256, "False", {"", "0.02", "", "", ""}}, /* tp 2 */
    };
    expect_attention_refused(*state, DECODE_COL, rows, NROWS(rows), EP_EPARSE, 4,
                             "no single-device decode rows");
    const att_row decode_only[] = {decode(1, 256, "0.02", "")};
    expect_attention_refused(*state, DECODE_COL, decode_only, NROWS(decode_only), EP_EPARSE, 2,
                             "no single-device prefill rows");
}

static void
test_attention_bad_cells_name_the_file_and_line(void **state)
{
    const att_row heads[] = {prefill(8, "0.05", "", "", ""),
                             {1, 4096, 3, 1, 0, 256, "False", {"", "0.02", "", "", ""}}};
    expect_attention_refused(*state, DECODE_COL, heads, NROWS(heads), EP_EPARSE, 3,
                             "n_q_head 3 does not divide n_embd 4096");
    const att_row text[] = {prefill(8, "0.05", "", "", ""), prefill(64, "fast", "", "", "")};
    expect_attention_refused(*state, DECODE_COL, text, NROWS(text), EP_EPARSE, 3,
                             "time_stats.attn_prefill.median: expected a number");
    const att_row empty[] = {prefill(8, "0.05", "", "", ""), decode(1, 256, "", "")};
    expect_attention_refused(*state, DECODE_COL, empty, NROWS(empty), EP_EPARSE, 3,
                             "time_stats.attn_decode.median is empty on a decode row");
}

static void
test_attention_csv_as_a_git_lfs_pointer_says_to_fetch_it(void **state)
{
    fixture *f = *state;
    FILE *out = open_file(f, "attention.csv");
    fputs("version https://git-lfs.github.com/spec/v1\n"
          "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
          "size 1048576\n",
          out);
    fclose(out);
    expect_attention_refused(f, NULL, NULL, 0, EP_EPARSE, 1,
                             "a Git LFS pointer, not Vidur's attention.csv");
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
            cmocka_unit_test_setup_teardown(
                    test_missing_mlp_csv_is_refused_even_beside_an_attention_csv, setup, teardown),
            cmocka_unit_test_setup_teardown(test_attention_csv_replaces_the_modelled_attention,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_attention_missing_timer_column_names_the_file_line_and_column, setup,
                    teardown),
            cmocka_unit_test_setup_teardown(test_attention_is_prefill_must_be_true_or_false, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_attention_hidden_size_mismatch_names_both_values,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_attention_without_single_device_decode_rows_is_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_attention_bad_cells_name_the_file_and_line, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(
                    test_attention_csv_as_a_git_lfs_pointer_says_to_fetch_it, setup, teardown),
            cmocka_unit_test_setup_teardown(test_dnn_service_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
