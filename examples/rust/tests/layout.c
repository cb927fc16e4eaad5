/* layout.c -- prints the size of every struct of frozen.h and the offset of each member, as a C compiler lays
 * them out, for tests/layout.rs to compare with the #[repr(C)] mirrors in src/sys.rs. One "name value" a line. */
#include "frozen.h"

#include <stddef.h>
#include <stdio.h>

#define SIZE(T) printf(#T " %zu\n", sizeof(T))
#define OFF(T, m) printf(#T "." #m " %zu\n", offsetof(T, m))

int main(void)
{
    SIZE(frz_input);
    OFF(frz_input, seq); OFF(frz_input, n); OFF(frz_input, tokens); OFF(frz_input, embd);

    SIZE(frz_generate_params);
    OFF(frz_generate_params, struct_size); OFF(frz_generate_params, max_tokens);
    OFF(frz_generate_params, temperature); OFF(frz_generate_params, top_k); OFF(frz_generate_params, top_p);
    OFF(frz_generate_params, stop_at_eot); OFF(frz_generate_params, stop); OFF(frz_generate_params, n_stop);
    OFF(frz_generate_params, on_token); OFF(frz_generate_params, on_token_data);

    SIZE(frz_train_progress);
    OFF(frz_train_progress, struct_size); OFF(frz_train_progress, step); OFF(frz_train_progress, total_steps);
    OFF(frz_train_progress, steps_per_epoch); OFF(frz_train_progress, epoch); OFF(frz_train_progress, loss);
    OFF(frz_train_progress, lr); OFF(frz_train_progress, images_per_s); OFF(frz_train_progress, val_ppl);
    OFF(frz_train_progress, best_val_ppl); OFF(frz_train_progress, skipped_images);
    OFF(frz_train_progress, n_train); OFF(frz_train_progress, n_val); OFF(frz_train_progress, elapsed_s);

    SIZE(frz_train_params);
    OFF(frz_train_params, struct_size); OFF(frz_train_params, vision_arch); OFF(frz_train_params, vision_width);
    OFF(frz_train_params, image_size); OFF(frz_train_params, prefix_tokens); OFF(frz_train_params, batch_size);
    OFF(frz_train_params, micro_batch); OFF(frz_train_params, lr); OFF(frz_train_params, beta1);
    OFF(frz_train_params, beta2); OFF(frz_train_params, adam_eps); OFF(frz_train_params, weight_decay);
    OFF(frz_train_params, grad_clip); OFF(frz_train_params, epochs); OFF(frz_train_params, max_steps);
    OFF(frz_train_params, val_fraction); OFF(frz_train_params, val_every); OFF(frz_train_params, patience);
    OFF(frz_train_params, max_caption_tokens); OFF(frz_train_params, checkpoint_every);
    OFF(frz_train_params, blind); OFF(frz_train_params, resume); OFF(frz_train_params, seed);
    OFF(frz_train_params, n_threads); OFF(frz_train_params, image_dir); OFF(frz_train_params, progress);
    OFF(frz_train_params, progress_data); OFF(frz_train_params, abort); OFF(frz_train_params, abort_data);
    OFF(frz_train_params, lm_mode); OFF(frz_train_params, lm_lr); OFF(frz_train_params, lr_decay);

    SIZE(frz_tokenizer_train_params);
    OFF(frz_tokenizer_train_params, struct_size); OFF(frz_tokenizer_train_params, vocab_size);
    OFF(frz_tokenizer_train_params, min_frequency); OFF(frz_tokenizer_train_params, n_threads);
    OFF(frz_tokenizer_train_params, tab_segments); OFF(frz_tokenizer_train_params, abort);
    OFF(frz_tokenizer_train_params, abort_data);

    SIZE(frz_tokenizer_train_stats);
    OFF(frz_tokenizer_train_stats, struct_size); OFF(frz_tokenizer_train_stats, n_bytes);
    OFF(frz_tokenizer_train_stats, n_words); OFF(frz_tokenizer_train_stats, n_unique_words);
    OFF(frz_tokenizer_train_stats, n_merges); OFF(frz_tokenizer_train_stats, n_vocab);
    OFF(frz_tokenizer_train_stats, last_count); OFF(frz_tokenizer_train_stats, count_s);
    OFF(frz_tokenizer_train_stats, merge_s);

    SIZE(frz_lm_config);
    OFF(frz_lm_config, struct_size); OFF(frz_lm_config, n_layer); OFF(frz_lm_config, n_head);
    OFF(frz_lm_config, n_embd); OFF(frz_lm_config, n_ctx); OFF(frz_lm_config, n_inner);

    SIZE(frz_pretrain_progress);
    OFF(frz_pretrain_progress, struct_size); OFF(frz_pretrain_progress, step);
    OFF(frz_pretrain_progress, total_steps); OFF(frz_pretrain_progress, epoch); OFF(frz_pretrain_progress, loss);
    OFF(frz_pretrain_progress, lr); OFF(frz_pretrain_progress, tokens_per_s); OFF(frz_pretrain_progress, val_loss);
    OFF(frz_pretrain_progress, n_train); OFF(frz_pretrain_progress, n_val); OFF(frz_pretrain_progress, n_truncated);
    OFF(frz_pretrain_progress, n_tokens); OFF(frz_pretrain_progress, elapsed_s);

    SIZE(frz_pretrain_params);
    OFF(frz_pretrain_params, struct_size); OFF(frz_pretrain_params, steps); OFF(frz_pretrain_params, batch_size);
    OFF(frz_pretrain_params, context); OFF(frz_pretrain_params, lr); OFF(frz_pretrain_params, warmup);
    OFF(frz_pretrain_params, min_lr_ratio); OFF(frz_pretrain_params, beta1); OFF(frz_pretrain_params, beta2);
    OFF(frz_pretrain_params, adam_eps); OFF(frz_pretrain_params, weight_decay); OFF(frz_pretrain_params, grad_clip);
    OFF(frz_pretrain_params, val_fraction); OFF(frz_pretrain_params, val_every);
    OFF(frz_pretrain_params, checkpoint_every); OFF(frz_pretrain_params, tab_segments);
    OFF(frz_pretrain_params, no_shuffle); OFF(frz_pretrain_params, seed); OFF(frz_pretrain_params, n_threads);
    OFF(frz_pretrain_params, progress); OFF(frz_pretrain_params, progress_data); OFF(frz_pretrain_params, abort);
    OFF(frz_pretrain_params, abort_data);

    /* Enums are ints on this ABI (sys.rs declares them as c_int). */
    SIZE(frz_status);
    SIZE(frz_logits_mode);
    SIZE(frz_prompt_seg_kind);
    /* Constants sys.rs copies. */
    printf("FRZ_VERSION_NUMBER %d\n", FRZ_VERSION_NUMBER);
    printf("FRZ_TOKEN_EMBEDDING %d\n", FRZ_TOKEN_EMBEDDING);
    printf("FRZ_ERR_CONTEXT_FULL %d\n", (int)FRZ_ERR_CONTEXT_FULL);
    printf("FRZ_LM_N_PARAMS %d\n", (int)FRZ_LM_N_PARAMS);
    printf("FRZ_PROMPT_SEG_EMBEDDING %d\n", (int)FRZ_PROMPT_SEG_EMBEDDING);
    return 0;
}
