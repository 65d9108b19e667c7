/* Fuzz target for the llama2.c checkpoint loader of the cpu engine: arbitrary bytes written
 * to a scratch file must load or fail with EP_EPARSE and a message, never crash; a loaded
 * model must run one prefill step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/exec/engine_cpu.h"
#include "epara/core/error.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/epara-fuzz-ckpt-%ld.bin", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    ep_llm *m = NULL;
    char err[256] = "";
    int rc = ep_llm_load(path, &m, err, sizeof err);
    if (rc == 0) {
        ep_llm_config cfg = *ep_llm_get_config(m);
        if (cfg.vocab_size < 1 || cfg.max_seq_len < 1)
            abort();
        ep_llm_seq *seq = NULL;
        if (ep_llm_seq_new(m, &seq) == 0) {
            int tok = 0;
            float *logits = malloc((size_t)cfg.vocab_size * sizeof *logits);
            if (logits && ep_llm_prefill(m, seq, &tok, 1, logits) != 0)
                abort();
            free(logits);
            ep_llm_seq_free(seq);
        }
        ep_llm_free(m);
    } else if (rc == EP_EPARSE && err[0] == '\0') {
        abort(); /* a parse error always says why */
    }
    remove(path);
    return 0;
}
